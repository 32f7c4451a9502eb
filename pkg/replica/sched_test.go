package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
)

// With bounds far below the number of records, the dispatcher keeps
// waiting for room: room made by commits as well as by finished records
// must wake it, and records of one path must still land in stream order.
func TestPipelineBoundsKeepFlowing(t *testing.T) {
	oldRunning, oldInflight := maxRunning, maxInflight
	maxRunning, maxInflight = 2, 4
	t.Cleanup(func() { maxRunning, maxInflight = oldRunning, oldInflight })

	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	root, data := t.TempDir(), t.TempDir()
	mt := time.Unix(1700000000, 0)
	const n = 60
	for i := range n {
		pub.file(fmt.Sprintf("f%02d", i), []byte(fmt.Sprintf("file %d", i)), 0o644, mt)
		pub.file("same", []byte(fmt.Sprintf("version %d", i)), 0o644, mt)
	}
	r, stop, _ := startReplica(t, nc, root, data)
	defer stop()
	jstest.Eventually(t, 20*time.Second, func() bool { return r.Progress().Settled }, "replica settles")
	for i := range n {
		name := fmt.Sprintf("f%02d", i)
		if !fileIs(root, name, []byte(fmt.Sprintf("file %d", i)), 0o644, mt)() {
			t.Fatalf("%s not applied", name)
		}
	}
	if !fileIs(root, "same", []byte(fmt.Sprintf("version %d", n-1)), 0o644, mt)() {
		t.Fatal("same: not the last version")
	}
}
