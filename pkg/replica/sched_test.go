package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
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

// The scheduler releases a record only when no earlier unfinished record
// conflicts with it: same path, or an ancestor whose record is not a
// directory.
func TestSchedulerOrdersRelatedPaths(t *testing.T) {
	mk := func(seq uint64, path string, typ wire.Type) *item {
		return &item{seq: seq, rec: &wire.Record{Path: path, Type: typ}}
	}
	items := []*item{
		mk(1, "a/x", wire.File),
		mk(2, "a", wire.File),    // replaces a's tree: waits for a/x
		mk(3, "a/y", wire.File),  // beneath a file record: waits for it
		mk(4, "b", wire.File),    // unrelated
		mk(5, "a", wire.Dir),     // same path as 2
		mk(6, "c/d/e", wire.Dir), // unrelated
		mk(7, "c", wire.Dir),     // a directory above 6: no conflict
	}
	s := newScheduler()
	for _, it := range items {
		s.add(it)
	}
	takeAll := func() []uint64 {
		var got []uint64
		for it := s.take(); it != nil; it = s.take() {
			got = append(got, it.seq)
		}
		return got
	}
	step := func(want ...uint64) {
		t.Helper()
		if got := takeAll(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("released %v, want %v", got, want)
		}
	}
	step(1, 4, 6, 7)
	s.done(items[3])
	step()
	s.done(items[0])
	step(2)
	s.done(items[1])
	step(3, 5)
	for _, i := range []int{2, 4, 5, 6} {
		s.done(items[i])
	}
	if !s.released.empty() || !s.heldBy.empty() || len(s.held) != 0 {
		t.Fatalf("claims left: %+v %+v %d held", s.released, s.heldBy, len(s.held))
	}
}
