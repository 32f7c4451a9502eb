//go:build linux

package hostile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// unusedSubjects: messages on subjects of the folder that jetsync does
// not use are stored by no stream (the state stream's subjects are only
// the state records' and the meta's), so they cannot reach the replica.
// Then a directory deleted at the source: the replica says so in one INFO
// line, with the number of entries it removed.
func (h *rig) unusedSubjects(t *testing.T) {
	st := h.pub.state(t)
	ctx, cancel := opContext()
	defer cancel()
	info, err := st.Info(ctx)
	harness.Must(t, err)
	if want := wire.StateSubjects(h.folder); !slices.Equal(info.Config.Subjects, want) {
		t.Errorf("state stream subjects %q, want %q", info.Config.Subjects, want)
	}
	prefix := "jetsync." + h.folder
	unused := []string{prefix + ".x.junk", prefix + ".s", prefix, prefix + ".c", prefix + ".m.x", prefix + ".mm"}
	nc := h.pub.js.Conn()
	for _, subject := range unused {
		if ack, err := h.pub.js.Publish(ctx, subject, []byte("junk")); err == nil {
			t.Errorf("stream %s stored a message on %s, which jetsync does not use (sequence %d)", ack.Stream, subject, ack.Sequence)
		}
		harness.Must(t, nc.Publish(subject, []byte("junk, no acknowledgement asked")))
	}
	harness.Must(t, nc.Flush())
	cache := h.pub.cache(t)
	for _, subject := range unused {
		for _, s := range []jetstream.Stream{st, cache} {
			if m, err := s.GetLastMsgForSubject(ctx, subject); err == nil {
				t.Errorf("a stream holds a message on %s (sequence %d)", subject, m.Sequence)
			}
		}
	}
	after, err := st.Info(ctx)
	harness.Must(t, err)
	if after.State.LastSeq != info.State.LastSeq {
		t.Errorf("the state stream went from sequence %d to %d while only unused subjects were published to",
			info.State.LastSeq, after.State.LastSeq)
	}
	h.dirTombstone(t)
}

// dirTombstone deletes a directory of files at the source and looks for
// the replica's INFO line about it: one line for the subtree, naming the
// directory, with the number of entries removed.
func (h *rig) dirTombstone(t *testing.T) {
	const files = 12
	for i := range files {
		h.placeFile(t, fmt.Sprintf("gone/f%02d.txt", i), []byte(fmt.Sprintf("file %d of a directory about to go\n", i)))
	}
	if !within(t, goodTimeout, "the directory gone reaching the replica", func() (bool, string) {
		n := harness.CountFiles(filepath.Join(h.dst, "gone"))
		return n == files, fmt.Sprintf("%d of %d files", n, files)
	}) {
		return
	}
	mark := logMark(h.replica)
	harness.Must(t, os.RemoveAll(filepath.Join(h.src, "gone")))
	within(t, goodTimeout, "the directory gone removed from the replica", func() (bool, string) {
		_, err := os.Lstat(filepath.Join(h.dst, "gone"))
		return errors.Is(err, fs.ErrNotExist), fmt.Sprintf("lstat: %v", err)
	})
	var lines []string
	check := func() (bool, string) {
		lines = infoLinesUnder(logSince(h.replica, mark), "gone")
		if len(lines) != 1 {
			return false, fmt.Sprintf("%d INFO lines about gone or below, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		f := fields(lines[0])
		if f["path"] != "gone" {
			return false, "the INFO line is not about the directory gone: " + lines[0]
		}
		for k, v := range f {
			if _, err := strconv.Atoi(v); err == nil && (strings.Contains(k, "entries") || strings.Contains(k, "removed")) {
				return true, ""
			}
		}
		return false, "the INFO line about gone has no count of entries removed: " + lines[0]
	}
	if within(t, 10*time.Second, "one INFO line for the directory tombstone of gone", check) {
		time.Sleep(time.Second)
		if ok, msg := check(); !ok {
			t.Error(msg)
		}
	}
}

// infoLinesUnder returns log's INFO lines whose path is dir or below it.
func infoLinesUnder(log, dir string) []string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.Contains(line, "level=INFO") {
			continue
		}
		if p, ok := fields(line)["path"]; ok && wire.IsUnder(p, dir) {
			out = append(out, line)
		}
	}
	return out
}

// descendantsBeforeFile: the stream holds live records of docs2/deep (a
// directory), docs2/deep/z and docs2/y, and after them the file record of
// docs2, as no source leaves it. A new replica's first sync must complete
// and end equal to the source, docs2 a file.
func (h *rig) descendantsBeforeFile(t *testing.T) {
	epoch := h.pub.epoch(t)
	orig := h.pub.lastState(t, "docs2")
	h.pub.record(t, dirRecord("docs2/deep", 0o755, epoch))
	h.pub.record(t, inlineFile("docs2/deep/z", []byte("z below a file\n"), epoch))
	h.pub.record(t, inlineFile("docs2/y", []byte("y below a file\n"), epoch))
	h.pub.send(t, wire.StateSubject(h.folder, "docs2"), orig.Data)
	t.Cleanup(func() { h.pub.clear(t); h.settle(t) })
	want, err := os.ReadFile(filepath.Join(h.src, "docs2"))
	harness.Must(t, err)
	within(t, goodTimeout, "r1 past the records, docs2 a file", func() (bool, string) {
		if ok, msg := h.caughtUp(t); !ok {
			return false, msg
		}
		return sameFile(filepath.Join(h.dst, "docs2"), want)
	})

	dst2 := filepath.Join(h.root, "dst2")
	r2 := harness.StartReplica(t, "replica2", h.url, h.folder, dst2, filepath.Join(h.root, "replica2-data"), "r2")
	guardMemory(t, r2)
	mem := watchMemory(t, r2)
	within(t, 90*time.Second, "the first sync of a new replica completing", func() (bool, string) {
		return strings.Contains(r2.LastRunLog(), `msg="reconcile done"`), "no \"reconcile done\" in its log"
	})
	within(t, 30*time.Second, "the new replica equal to the source", func() (bool, string) {
		return harness.SameTree(t, h.src, dst2)
	})
	if ok, msg := sameFile(filepath.Join(dst2, "docs2"), want); !ok {
		t.Errorf("on the new replica: %s", msg)
	}
	mem.check(t, r2, "after its first sync")
	if err := r2.Stop(); err != nil {
		t.Errorf("stop the new replica: %v", err)
	}
	if t.Failed() { // its log goes with the case's temporary directory
		t.Logf("the new replica's log, last 40 lines:\n%s", r2.Tail(40))
	}
}
