package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateFile(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	_, c := start(t, Options{Root: root})

	writeFile(t, filepath.Join(root, "f.txt"))
	eventually(t, waitFor, func() bool { return c.hasPath("f.txt") })
}

func TestNestedMkdir(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	w, c := start(t, Options{Root: root})

	// The file lands before the watches on b and c can exist, so only the
	// walk of the reported directory can find it.
	mkdirAll(t, filepath.Join(root, "a", "b", "c"))
	writeFile(t, filepath.Join(root, "a", "b", "c", "f"))

	eventually(t, waitFor, func() bool { return c.hasDir("a") && c.hasPath("a") })
	eventually(t, waitFor, watchedIs(w, 4))

	writeFile(t, filepath.Join(root, "a", "b", "c", "g"))
	eventually(t, waitFor, func() bool { return c.hasPath("a/b/c/g") })
}

func TestRenameDir(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	mkdirAll(t, filepath.Join(root, "a", "s"))
	writeFile(t, filepath.Join(root, "a", "f"))
	w, c := start(t, Options{Root: root})
	eventually(t, waitFor, watchedIs(w, 3))

	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, func() bool { return c.hasPath("a") && c.hasPath("b") && c.hasDir("b") })
	eventually(t, waitFor, watchedIs(w, 3))

	// Events below the moved directory must carry the new name.
	writeFile(t, filepath.Join(root, "b", "s", "g"))
	eventually(t, waitFor, func() bool { return c.hasPath("b/s/g") })
	if stale := c.pathsWithPrefix("a/"); len(stale) > 0 {
		t.Fatalf("paths reported under the old name: %v", stale)
	}
}

func TestRemoveTree(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	mkdirAll(t, filepath.Join(root, "d", "e", "f"))
	writeFile(t, filepath.Join(root, "d", "x"))
	writeFile(t, filepath.Join(root, "d", "e", "f", "y"))
	w, c := start(t, Options{Root: root})
	eventually(t, waitFor, watchedIs(w, 4))

	if err := os.RemoveAll(filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, func() bool { return c.hasPath("d") })
	eventually(t, waitFor, watchedIs(w, 1))
}

func TestBurstIsCoalesced(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	const debounce = 200 * time.Millisecond
	w, c := start(t, Options{Root: root, Debounce: debounce, MaxDelay: time.Second})

	const n = 2000
	began := time.Now()
	for i := range n {
		writeFile(t, filepath.Join(root, fmt.Sprintf("f%04d", i)))
	}
	elapsed := time.Since(began)
	eventually(t, waitFor, func() bool {
		return c.hasPath(fmt.Sprintf("f%04d", n-1)) || c.rescanCount() > 0
	})
	if c.rescanCount() > 0 && w.Stats().Overflows > 0 {
		t.Skip("kernel queue overflowed on this host; coalescing not observable")
	}
	eventually(t, waitFor, func() bool { return len(c.pathsWithPrefix("f")) == n })
	// A batch is never flushed sooner than Debounce after its first event,
	// which bounds the count however slow or loaded the host is.
	limit := int(elapsed/debounce) + 3
	if got := len(c.snapshot()); got > limit {
		t.Fatalf("%d files written in %v arrived in %d batches, want at most %d", n, elapsed, got, limit)
	}
	for _, b := range c.snapshot() {
		if b.Rescan {
			t.Fatalf("unexpected rescan")
		}
	}
}

func TestMaxBatchCollapsesToRescan(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	_, c := start(t, Options{Root: root, MaxBatch: 5, Debounce: 200 * time.Millisecond, MaxDelay: time.Second})

	for i := range 20 {
		writeFile(t, filepath.Join(root, fmt.Sprintf("f%02d", i)))
	}
	eventually(t, waitFor, func() bool { return c.rescanCount() > 0 })
	for _, b := range c.snapshot() {
		if b.Rescan && (len(b.Paths) > 0 || len(b.Dirs) > 0) {
			t.Fatalf("rescan batch carries paths: %+v", b)
		}
	}
}

func TestMaxWatchesCap(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	mkdirAll(t, filepath.Join(root, "a", "b", "c"))
	w, c := start(t, Options{Root: root, MaxWatches: 2})

	want := 2
	if fdPerEntry {
		want = 1 // the root's descriptor plus one for its entry "a" use the cap up
	}
	st := w.Stats()
	if !st.Capped || st.Watched != want {
		t.Fatalf("Stats() = %+v, want Capped with Watched=%d", st, want)
	}

	// A directory refused by the cap is still handed to the consumer.
	mkdirAll(t, filepath.Join(root, "new"))
	eventually(t, waitFor, func() bool { return c.hasDir("new") })
	if got := w.Stats().Watched; got != want {
		t.Fatalf("Watched = %d after cap, want %d", got, want)
	}
}

func TestIgnore(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	mkdirAll(t, filepath.Join(root, "skip"))
	ignore := func(rel string) bool {
		return strings.HasSuffix(rel, ".tmp") || rel == "skip" || strings.HasPrefix(rel, "skip/")
	}
	w, c := start(t, Options{Root: root, Ignore: ignore})
	if got := w.Stats().Watched; got != 1 {
		t.Fatalf("Watched = %d, want 1 (ignored dir must not be watched)", got)
	}

	writeFile(t, filepath.Join(root, "x.tmp"))
	writeFile(t, filepath.Join(root, "skip", "inner"))
	mkdirAll(t, filepath.Join(root, "other.tmp"))
	// Events are handled in order, so once this one is in, the ignored
	// ones before it have been dropped.
	writeFile(t, filepath.Join(root, "keep"))
	eventually(t, waitFor, func() bool { return c.hasPath("keep") })

	for _, p := range []string{"x.tmp", "skip", "skip/inner", "other.tmp"} {
		if c.hasPath(p) || c.hasDir(p) {
			t.Errorf("ignored path %q was reported", p)
		}
	}
	if got := w.Stats().Watched; got != 1 {
		t.Fatalf("Watched = %d, want 1", got)
	}
}

func TestSymlinkNotFollowed(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	outside := filepath.Join(filepath.Dir(root), "outside")
	mkdirAll(t, outside)
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	w, c := start(t, Options{Root: root})
	if got := w.Stats().Watched; got != 1 {
		t.Fatalf("Watched = %d, want 1", got)
	}

	writeFile(t, filepath.Join(outside, "f"))
	writeFile(t, filepath.Join(root, "sentinel"))
	eventually(t, waitFor, func() bool { return c.hasPath("sentinel") })
	if got := c.pathsWithPrefix("link/"); len(got) > 0 {
		t.Fatalf("events through symlink: %v", got)
	}
}

func TestRootRemovedRequestsRescan(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	mkdirAll(t, filepath.Join(root, "sub"))
	w, c := start(t, Options{Root: root})

	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, func() bool { return c.rescanCount() > 0 })
	eventually(t, waitFor, watchedIs(w, 0))
}

func TestMaxDelayFlushesBusyBatch(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	// With a debounce that never elapses, only MaxDelay can flush.
	_, c := start(t, Options{Root: root, Debounce: time.Hour, MaxDelay: 50 * time.Millisecond})

	f, err := os.Create(filepath.Join(root, "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deadline := time.Now().Add(waitFor)
	for len(c.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no batch while events kept coming")
		}
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestCancelWithoutReader(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	w, err := New(Options{Root: root, Debounce: time.Millisecond, MaxDelay: time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Batch, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	<-w.Ready()

	writeFile(t, filepath.Join(root, "first"))
	eventually(t, waitFor, func() bool { return len(out) == 1 })
	// The next batch has nowhere to go: the watcher ends up blocked on out.
	writeFile(t, filepath.Join(root, "second"))
	time.Sleep(50 * time.Millisecond)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRejectsRelativeRoot(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Root: "relative/dir"}); err == nil {
		t.Fatal("New accepted a relative root")
	}
}

func TestRunFailsOnMissingRoot(t *testing.T) {
	t.Parallel()
	w, err := New(Options{Root: filepath.Join(t.TempDir(), "missing"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background(), make(chan Batch)); err == nil {
		t.Fatal("Run succeeded on a missing root")
	}
	if err := w.Run(context.Background(), make(chan Batch)); err == nil {
		t.Fatal("second Run succeeded")
	}
}

// A root given through a symlink is watched as the directory it names:
// relative paths come out the same.
func TestSymlinkedRoot(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	mkdirAll(t, filepath.Join(root, "d"))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	w, c := start(t, Options{Root: link})
	eventually(t, waitFor, watchedIs(w, 2))

	writeFile(t, filepath.Join(link, "d", "f"))
	eventually(t, waitFor, func() bool { return c.hasPath("d/f") })
}

func TestRenameFile(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	writeFile(t, filepath.Join(root, "old"))
	_, c := start(t, Options{Root: root})

	if err := os.Rename(filepath.Join(root, "old"), filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, func() bool { return c.hasPath("old") && c.hasPath("new") })
}

func TestMoveInFromOutside(t *testing.T) {
	t.Parallel()
	root := tempRoot(t)
	outside := filepath.Join(filepath.Dir(root), "outside")
	mkdirAll(t, filepath.Join(outside, "x", "y"))
	writeFile(t, filepath.Join(outside, "x", "y", "f"))
	w, c := start(t, Options{Root: root})

	if err := os.Rename(filepath.Join(outside, "x"), filepath.Join(root, "x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, func() bool { return c.hasDir("x") && c.hasPath("x") })
	eventually(t, waitFor, watchedIs(w, 3))

	writeFile(t, filepath.Join(root, "x", "y", "g"))
	eventually(t, waitFor, func() bool { return c.hasPath("x/y/g") })
}
