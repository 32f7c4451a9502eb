package source

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/watch"
	"github.com/jetsync/jetsync/pkg/wire"
)

func mustWatcher(t *testing.T, s *Source, maxWatches int) *watch.Watcher {
	t.Helper()
	w, err := watch.New(watch.Options{Root: s.cfg.Root, Debounce: s.cfg.Debounce, MaxWatches: maxWatches,
		Ignore: s.ignored, Logger: s.cfg.Logger})
	must(t, err)
	return w
}

func TestUnreadableDirectoryAndFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"d/a.txt": file("a"), "d/b.txt": file("b"), "e.txt": file("e")}.create(t, f.root)
	var blocked atomic.Bool
	r := f.start(func(c *Config, s *Source) {
		c.ScanInterval = 200 * time.Millisecond
		s.readDirFn = func(p string) ([]os.DirEntry, error) {
			if blocked.Load() && p == filepath.Join(f.root, "d") {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
			}
			return os.ReadDir(p)
		}
		s.openFn = func(p string, flag int, perm os.FileMode) (*os.File, error) {
			if blocked.Load() && p == filepath.Join(f.root, "e.txt") {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
			}
			return os.OpenFile(p, flag, perm)
		}
	})
	r.waitIdle(t)
	f.converged(10 * time.Second)

	blocked.Store(true)
	must(t, os.WriteFile(filepath.Join(f.root, "e.txt"), []byte("e, changed"), 0o644))
	waitFor(t, 10*time.Second, func() bool {
		return r.counter(t, "jetsync_source_errors_total", "kind", "readdir") >= 2 &&
			r.counter(t, "jetsync_source_errors_total", "kind", "read") >= 1
	}, "read errors")
	p := r.src.Progress()
	if p.Errors < 3 || !strings.Contains(p.LastError, "permission denied") {
		t.Errorf("progress = %+v", p)
	}
	for _, name := range []string{"d/a.txt", "d/b.txt"} {
		if rec := f.record(name); rec == nil || rec.Type != wire.File {
			t.Errorf("%s tombstoned although its directory was only unreadable: %+v", name, rec)
		}
	}
	blocked.Store(false)
	f.converged(10 * time.Second) // the next scan publishes e.txt
}

// TestTornReadsNeverPublished rewrites a file in place while the source
// reads it: every published hash must be one of the versions written.
func TestTornReadsNeverPublished(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := randomBytes(t, 512<<10), randomBytes(t, 512<<10)
	valid := map[wire.Hash]string{wire.Sum([]byte(a)): "A", wire.Sum([]byte(b)): "B"}
	path := filepath.Join(f.root, "f")
	tree{"f": file(a)}.create(t, f.root)

	var bad, seen atomic.Int64
	sub, err := f.nc.Subscribe(wire.StateSubject(f.folder, "f"), func(m *nats.Msg) {
		rec, err := wire.DecodeRecord(m.Data)
		if err != nil || valid[rec.Hash] == "" {
			bad.Add(1)
		}
		seen.Add(1)
	})
	must(t, err)
	defer sub.Unsubscribe()

	r := f.start()
	r.waitIdle(t)
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		content := a
		if i%2 == 1 {
			content = b
		}
		_, err := fh.WriteAt([]byte(content), 0)
		must(t, err)
		time.Sleep(time.Duration(i%10) * 5 * time.Millisecond) // some pauses let reads finish
	}
	must(t, fh.Close())
	f.converged(10 * time.Second)
	must(t, f.nc.Flush())
	if bad.Load() != 0 {
		t.Errorf("%d of %d published records had a hash of neither version", bad.Load(), seen.Load())
	}
	t.Logf("%d records published, %v unstable reads", seen.Load(),
		r.counter(t, "jetsync_source_errors_total", "kind", "unstable"))
}

func TestPublisherDetectsSequenceRegression(t *testing.T) {
	var lost atomic.Uint64
	p := newPublisher(nil, nil, func(seq uint64) { lost.Store(seq) })
	p.observe(10, false, 0)
	p.observe(12, false, 10)
	p.observe(5, true, 12) // duplicates carry the original sequence
	if p.highest.Load() != 12 || lost.Load() != 0 {
		t.Fatalf("false alarm: highest %d lost %d", p.highest.Load(), lost.Load())
	}
	p.observe(11, false, 12) // sent after 12 was acked, stored before it
	p.observe(9, false, 12)
	p.observe(13, false, 12)
	if lost.Load() != 9 || p.regressed.Load() != 9 {
		t.Errorf("regression not reported: lost %d regressed %d", lost.Load(), p.regressed.Load())
	}
	p.rebase(20)
	if p.regressed.Load() != 0 || p.highest.Load() != 20 {
		t.Error("rebase did not reset")
	}
}

func TestOutermostTombRoots(t *testing.T) {
	got := outermost([]tombRoot{
		{path: "a/b/c", self: true}, {path: "a", self: true}, {path: "x/y", self: true},
		{path: "x"}, {path: "x/y/z", self: true}, {path: "q/r/s", self: true}, {path: "x", self: true},
	})
	want := []tombRoot{{path: "q/r/s", self: true}, {path: "x", self: true}, {path: "a", self: true}}
	if len(got) != len(want) {
		t.Fatalf("outermost = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("outermost[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRunFailsOnMissingRoot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.root = filepath.Join(f.root, "missing")
	src, err := New(f.config(), f.nc, f.js)
	must(t, err)
	if err := src.Run(context.Background()); err == nil {
		t.Error("Run over a missing root succeeded")
	}
}

// An unmounted volume leaves an empty mountpoint: that must not be taken
// for "every file was deleted" unless the operator says so.
func TestEmptyRootIsNotPublishedAsDeletes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a/b.txt": file("hello"), "c": file("x")}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	r.stop(t)
	seq := f.lastSeq()
	entries, err := os.ReadDir(f.root)
	must(t, err)
	for _, e := range entries {
		must(t, os.RemoveAll(filepath.Join(f.root, e.Name())))
	}

	r = f.start()
	jstest.Eventually(t, 10*time.Second, func() bool { return r.src.Progress().Errors > 0 },
		"no error reported for an empty root")
	if got := f.lastSeq(); got != seq {
		t.Fatalf("empty root published %d messages", got-seq)
	}
	if rec := f.record("c"); rec == nil || rec.Type != wire.File {
		t.Fatalf("record of c = %+v, want the file kept", rec)
	}
	r.stop(t)

	r = f.start(func(c *Config, _ *Source) { c.AllowEmptyRoot = true })
	jstest.Eventually(t, 10*time.Second, func() bool {
		rec := f.record("c")
		return rec != nil && rec.Type == wire.Deleted
	}, "with AllowEmptyRoot the deletes are published")
}
