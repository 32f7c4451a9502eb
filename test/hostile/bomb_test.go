//go:build linux

package hostile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

// The manifest bomb: one blob of bombRefs entries of bombChunk bytes,
// just under 1 MiB, that a file record lists bombBlobs times. Expanded,
// its chunk list would hold 31 million entries, over a gigabyte in memory.
const (
	bombRefs  = 31000
	bombChunk = 100
	bombBlobs = 1000
)

// manifestBomb: a file record whose manifest names one 1 MiB blob, put in
// the content cache, 1,000 times. The replica must reject it as malformed
// and count it, without its memory growing, and must not crash, then or
// when it starts again.
func (h *rig) manifestBomb(t *testing.T) {
	const path = "bomb/manifest"
	blob := manifestBlob(bombRefs, bombChunk)
	ref := wire.ChunkRef{Hash: wire.Sum(blob), Size: uint32(len(blob))}
	h.pub.chunk(t, ref.Hash, wire.EncodeChunk(nil, blob, wire.NoCompression))
	now := time.Now().UnixNano()
	rec := &wire.Record{Epoch: h.pub.epoch(t), Path: path, Type: wire.File, Mode: 0o644, MTime: now,
		Size: bombBlobs * bombRefs * bombChunk, Hash: wire.Sum([]byte("not its content")), Cached: true, Time: now}
	for range bombBlobs {
		rec.Manifest = append(rec.Manifest, ref)
	}
	mark := logMark(h.replica)
	errs := h.errorsOf("")
	seq := h.pub.record(t, rec)
	t.Cleanup(func() { h.pub.clear(t); h.settle(t) })
	within(t, time.Minute, "the manifest bomb rejected as malformed, in the log", func() (bool, string) {
		lines := problemLines(logSince(h.replica, mark), path)
		for _, l := range lines {
			if strings.Contains(l, "malformed") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d warnings or errors about %s, none says malformed:\n%s", len(lines), path, strings.Join(lines, "\n"))
	})
	within(t, rejectTimeout, "the manifest bomb counted (jetsync_replica_errors_total)", func() (bool, string) {
		n := h.errorsOf("") - errs
		return n > 0, fmt.Sprintf("the errors rose by %.0f", n)
	})
	within(t, rejectTimeout, "the replica's position past the manifest bomb", func() (bool, string) {
		v := h.metric("jetsync_replica_applied_seq")
		return v >= float64(seq), fmt.Sprintf("position %.0f, the bomb is at %d", v, seq)
	})
	h.checkMemory(t, "after the manifest bomb")
	h.goodChange(t, "after the manifest bomb")
	// Started again, the replica must come up and stay up: a crash loop
	// shows as an exit before its position passes the bomb, or soon after.
	h.restartReplica(t)
	within(t, rejectTimeout, "the restarted replica's position past the manifest bomb", func() (bool, string) {
		v := h.metric("jetsync_replica_applied_seq")
		return v >= float64(seq), fmt.Sprintf("position %.0f, the bomb is at %d", v, seq)
	})
	h.goodChange(t, "after the replica's restart")
	time.Sleep(3 * time.Second)
	if !h.replica.Running() {
		died, err := h.replica.Died()
		t.Errorf("the replica exited after its restart (on its own: %v, %v)", died, err)
	}
}
