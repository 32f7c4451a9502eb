package replica

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// An excluded tombstone makes the replica forget the path and what its
// store has below it, and leaves the disk alone; a later record of the
// path is applied over what is there.
func TestExcludedTombstoneKeepsDisk(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	root := t.TempDir()
	mt := time.Unix(1700000000, 0)
	pub.record(wire.Record{Path: "cache", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("cache/a", []byte("cached"), 0o644, mt)
	pub.inlineFile("keep", []byte("kept"), 0o644, mt)
	reg := prometheus.NewRegistry()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), withRegistry(reg))
	defer stop()
	jstest.Eventually(t, 10*time.Second, fileIs(root, "cache/a", []byte("cached"), 0o644, mt), "tree applied")

	pub.record(wire.Record{Path: "cache/a", Type: wire.Deleted, Attrs: wire.Attrs{Excluded: true}})
	pub.record(wire.Record{Path: "cache", Type: wire.Deleted, Attrs: wire.Attrs{Excluded: true}})
	jstest.Eventually(t, 10*time.Second, func() bool {
		return gauge(t, reg, "jetsync_replica_excluded_total") == 2 && r.Progress().Settled
	}, "excluded tombstones not counted")
	if !fileIs(root, "cache/a", []byte("cached"), 0o644, mt)() {
		t.Error("an excluded tombstone changed the file on disk")
	}
	for _, p := range []string{"cache", "cache/a"} {
		if e, err := r.store.applied(p); err != nil || e != nil {
			t.Errorf("the store still has %s: %+v, %v", p, e, err)
		}
	}
	if e, err := r.store.applied("keep"); err != nil || e == nil {
		t.Errorf("the store lost keep: %v", err)
	}

	// The patterns changed back: the source publishes the path again.
	mt2 := mt.Add(time.Hour)
	pub.inlineFile("cache/a", []byte("published again"), 0o600, mt2)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "cache/a", []byte("published again"), 0o600, mt2),
		"a record of a path the replica forgot is applied over it")
}

// A reconcile removes what the source does not have, but not what the
// folder meta's patterns exclude, nor .zfs at the root.
func TestReconcileKeepsExcludedPaths(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	pub.p(wire.Meta{Epoch: 1, Source: "test", Exclude: []string{"*.tmp", "cache/"}})
	pub.inlineFile("a", []byte("a"), 0o644, time.Unix(5, 0))
	root := t.TempDir()
	kept := []string{"x.tmp", "d/y.tmp", "cache/z", ".zfs/snapshot/s"}
	for _, p := range append([]string{"stray", "d/stray", "cachefile/x"}, kept...) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, p), "local")
	}
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "stray"))
		return os.IsNotExist(err) && r.Progress().Settled
	}, "reconcile did not remove what the source does not have")
	for _, p := range []string{"d/stray", "cachefile"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("excluded %s removed: %v", p, err)
		}
	}
}

// A meta whose patterns do not compile is rejected; the last good one
// stands.
func TestBadMetaPatternsRejected(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	pub.p(wire.Meta{Epoch: 1, Source: "test", Exclude: []string{"bad["}})
	pub.inlineFile("a", []byte("a"), 0o644, time.Unix(5, 0))
	reg := prometheus.NewRegistry()
	_, stop, _ := startReplica(t, nc, t.TempDir(), t.TempDir(), withRegistry(reg))
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		return counter(t, reg, "jetsync_replica_errors_total", "kind", "bad_message") >= 1
	}, "a meta with a bad pattern was not rejected")
}

// A directory the source deleted goes, but what the folder meta's patterns
// exclude beneath it stays, with the directories on its way: it was never
// the source's to delete.
func TestDeletedDirectoryKeepsExcludedPaths(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	pub.p(wire.Meta{Epoch: 1, Source: "test", Exclude: []string{"*.tmp"}})
	mt := time.Unix(1700000000, 0)
	pub.record(wire.Record{Path: "d", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.record(wire.Record{Path: "d/sub", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("d/a", []byte("a"), 0o644, mt)
	pub.inlineFile("d/sub/b", []byte("b"), 0o644, mt)
	pub.record(wire.Record{Path: "e", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("e/c", []byte("c"), 0o644, mt)
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, fileIs(root, "d/sub/b", []byte("b"), 0o644, mt), "tree applied")
	writeFile(t, filepath.Join(root, "d/sub/local.tmp"), "the replica's own")

	for _, p := range []string{"d", "e"} {
		pub.record(wire.Record{Path: p, Type: wire.Deleted})
	}
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "e"))
		return os.IsNotExist(err) && r.Progress().Settled
	}, "the tombstones were not applied")
	for _, p := range []string{"d/a", "d/sub/b"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", p, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "d/sub/local.tmp")); err != nil || string(b) != "the replica's own" {
		t.Errorf("an excluded file beneath a deleted directory: %q, %v", b, err)
	}
}
