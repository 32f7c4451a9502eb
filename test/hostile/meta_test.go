//go:build linux

package hostile

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// Log messages of the replica these cases wait for.
const (
	msgReconciling   = `msg="reconciling against the full published state"`
	msgReconcileDone = `msg="reconcile done"`
)

// garbageMeta: garbage as the folder meta. The replica rejects it, counts
// it, says so in its log and goes on with the last good meta. The source
// is stopped meanwhile: a running one finds a meta it did not sign and
// publishes its own again, maybe before the replica reads the garbage.
func (h *rig) garbageMeta(t *testing.T) {
	good := h.pub.metaBytes(t)
	goodMeta, err := wire.DecodeMeta(good)
	harness.Must(t, err)
	t.Cleanup(func() {
		if !h.source.Running() {
			harness.Must(t, h.source.Start())
		}
		h.pub.send(t, wire.MetaSubject(h.folder), good)
		h.settle(t)
	})
	mark := logMark(h.replica)
	errs := h.errorsOf("")
	harness.Must(t, h.source.Stop())
	h.pub.send(t, wire.MetaSubject(h.folder), []byte("garbage"))
	within(t, noticeTimeout, "a warning or error about the unreadable folder meta", func() (bool, string) {
		return len(problemLines(logSince(h.replica, mark), "meta")) > 0, "none in the replica's log"
	})
	within(t, rejectTimeout, "the unreadable folder meta counted (jetsync_replica_errors_total)", func() (bool, string) {
		n := h.errorsOf("") - errs
		return n > 0, fmt.Sprintf("the errors rose by %.0f", n)
	})
	harness.Must(t, h.source.Start())
	h.goodChange(t, "after the garbage meta was read")
	within(t, rejectTimeout, "status: the replica live at the last good meta's epoch", func() (bool, string) {
		rep, msg := h.replicaStatus(t, "r1")
		if msg != "" {
			return false, msg
		}
		epoch, _ := rep["epoch"].(float64)
		return rep["state"] == "live" && uint64(epoch) == goodMeta.Epoch,
			fmt.Sprintf("state %v at epoch %v, want live at %d", rep["state"], rep["epoch"], goodMeta.Epoch)
	})
	t.Logf("replica log since the garbage meta:\n%s", harness.FirstLines(strings.Join(problemLines(logSince(h.replica, mark), ""), "\n"), 10))
}

// junkStateEpochBump: junk replaces the latest state of a path the
// replica has, then a folder meta announces a new epoch, so the replica
// reconciles against the full published state. An unreadable state is
// not an absent one: the reconcile must keep the path's file.
func (h *rig) junkStateEpochBump(t *testing.T) {
	const keep = "docs/keep.txt"
	orig := h.pub.lastState(t, keep)
	meta := h.pub.meta(t)
	t.Cleanup(func() {
		h.pub.send(t, wire.StateSubject(h.folder, keep), orig.Data)
		h.settle(t)
	})
	mark := logMark(h.replica)
	h.pub.send(t, wire.StateSubject(h.folder, keep), []byte("junk in place of the latest state of "+keep))
	meta["epoch"] = epochOf(meta) + 1
	h.pub.sendMeta(t, meta)
	if !within(t, noticeTimeout+30*time.Second, "the replica reconciling for the new epoch, to the end", func() (bool, string) {
		return strings.Contains(logSince(h.replica, mark), msgReconcileDone), "no \"reconcile done\" since the meta"
	}) {
		return
	}
	want := h.readSrc(t, keep)
	if ok, msg := sameFile(filepath.Join(h.dst, keep), want); !ok {
		t.Errorf("the reconcile after the epoch bump took %s, whose latest state is unreadable: %s", keep, msg)
	}
}

// partialMeta: a folder meta of a new epoch that says the source is still
// publishing its full state, and no meta after it that says it is done.
// The replica reconciles and must wait for the full state; its status
// must say so, never "live".
func (h *rig) partialMeta(t *testing.T) {
	meta := h.pub.meta(t)
	epoch := epochOf(meta) + 1
	t.Cleanup(func() {
		done := maps.Clone(meta)
		done["epoch"] = epoch
		delete(done, "partial")
		mark := logMark(h.replica)
		h.pub.sendMeta(t, done)
		if ok, _ := poll(noticeTimeout+30*time.Second, func() (bool, string) {
			return strings.Contains(logSince(h.replica, mark), msgReconcileDone), ""
		}); !ok {
			t.Logf("cleanup: the replica did not finish its reconcile after the complete meta")
		}
	})
	mark := logMark(h.replica)
	partial := maps.Clone(meta)
	partial["epoch"], partial["partial"] = epoch, true
	h.pub.sendMeta(t, partial)
	if !within(t, noticeTimeout, "the replica reconciling for the partial epoch", func() (bool, string) {
		return strings.Contains(logSince(h.replica, mark), msgReconciling), "no reconcile started since the meta"
	}) {
		return
	}
	// The status is rewritten every 2 s: wait until it shows the
	// reconcile, then watch it for a while.
	within(t, 10*time.Second, "status: the replica no longer live", func() (bool, string) {
		rep, msg := h.replicaStatus(t, "r1")
		return msg == "" && rep["state"] != "live", fmt.Sprintf("%v %s", rep, msg)
	})
	waiting := false
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		rep, msg := h.replicaStatus(t, "r1")
		if msg != "" {
			t.Errorf("status: %s", msg)
			break
		}
		if rep["state"] == "live" {
			t.Errorf("status says the replica is live while the source has not published its full state: %v", rep)
			break
		}
		waiting = waiting || mentions(rep, "waiting", "full state", "partial")
	}
	if !waiting {
		rep, _ := h.replicaStatus(t, "r1")
		t.Errorf("status does not say the replica waits for the source's full state: %v", rep)
	}
	h.goodChange(t, "while waiting for the full state")
}

// readSrc returns the content of rel in the source's tree.
func (h *rig) readSrc(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.src, filepath.FromSlash(rel)))
	harness.Must(t, err)
	return b
}
