package source

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

var testPatterns = []string{"*.tmp", "cache/", "*.log", "!keep.log"}

func withExclude(patterns ...string) func(*Config, *Source) {
	return func(c *Config, s *Source) {
		c.Exclude = patterns
		m, err := exclude.Compile(patterns)
		if err != nil {
			panic(err)
		}
		s.excl = m
	}
}

// Excluded paths are neither published by the scan nor by the watcher,
// excluded directories are not watched, and the folder meta carries the
// patterns.
func TestExcludedPathsAreNotPublished(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{
		"a.tmp":             file("scratch"),
		"d/b.tmp":           file("scratch"),
		"d/keep.txt":        file("kept"),
		"cache/x":           file("cached"),
		"cache/sub/y":       file("cached"),
		"d/cache":           file("a file, not a directory: kept"),
		"d/debug.log":       file("log"),
		"d/keep.log":        file("kept log"),
		".zfs/snapshot/x":   file("snapshot"),
		"d/.zfs/not-a-snap": file("kept: .zfs is special at the root only"),
	}.create(t, f.root)
	r := f.start(withExclude(testPatterns...))
	r.waitIdle(t)

	must(t, os.WriteFile(filepath.Join(f.root, "new.tmp"), []byte("x"), 0o644))
	must(t, os.MkdirAll(filepath.Join(f.root, "d/cache2/cache"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, "d/cache2/cache/z"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "cache/live"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "live.txt"), []byte("x"), 0o644))
	jstest.Eventually(t, 10*time.Second, func() bool {
		return f.record("live.txt") != nil && f.record("d/cache2") != nil
	}, "live changes not published")
	r.waitIdle(t)

	recs, err := f.records()
	must(t, err)
	var got []string
	for p := range recs {
		got = append(got, p)
	}
	slices.Sort(got)
	// "" is the folder root's own record.
	want := []string{"", "d", "d/.zfs", "d/.zfs/not-a-snap", "d/cache", "d/cache2", "d/keep.log", "d/keep.txt", "live.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("published %q, want %q", got, want)
	}
	if m := f.meta(); !slices.Equal(m.Exclude, testPatterns) || m.V != 3 {
		t.Errorf("folder meta %+v does not carry the patterns at version 3", m)
	}
	// root, d, d/.zfs and d/cache2; not cache, cache/sub, .zfs, d/cache2/cache.
	if w := r.src.watcher.Stats().Watched; w != 4 {
		t.Errorf("%d directories watched, want 4", w)
	}
}

// A path published before its patterns excluded it is tombstoned as
// excluded, its whole tree with it, and leaves the index; with the
// patterns gone again it is published anew.
func TestNarrowedPatternsTombstoneAsExcluded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{
		"cache/a":     file("a"),
		"cache/sub/b": file("b"),
		"d/x.tmp":     file("x"),
		"keep.txt":    file("kept"),
	}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	r.stop(t)
	excluded := []string{"cache", "cache/a", "cache/sub", "cache/sub/b", "d/x.tmp"}
	for _, p := range excluded {
		if rec := f.record(p); rec == nil || rec.Type == wire.Deleted {
			t.Fatalf("%s not published before the patterns changed: %+v", p, rec)
		}
	}

	r = f.start(withExclude("cache/", "*.tmp"))
	r.waitIdle(t)
	r.stop(t)
	for _, p := range excluded {
		if rec := f.record(p); rec == nil || rec.Type != wire.Deleted || !rec.Excluded {
			t.Errorf("%s: %+v, want an excluded tombstone", p, rec)
		}
		if _, err := os.Lstat(filepath.Join(f.root, p)); err != nil {
			t.Errorf("%s touched at the source: %v", p, err)
		}
	}
	if rec := f.record("keep.txt"); rec == nil || rec.Type != wire.File {
		t.Errorf("keep.txt: %+v", rec)
	}
	ix, err := index.Open(IndexPath(f.data, f.folder))
	must(t, err)
	for _, p := range excluded {
		if e, err := ix.Head(p); err != nil || e != nil {
			t.Errorf("%s still in the index: %+v, %v", p, e, err)
		}
	}
	must(t, ix.Close())

	r = f.start()
	r.waitIdle(t)
	for _, p := range excluded {
		if rec := f.record(p); rec == nil || rec.Type == wire.Deleted {
			t.Errorf("%s not published again once no longer excluded: %+v", p, rec)
		}
	}
	if m := f.meta(); m.Exclude != nil || m.V != 2 {
		t.Errorf("folder meta %+v still has patterns", m)
	}
}

// A path the watcher names, published before it became excluded, is
// tombstoned as excluded; a path below an excluded directory too.
func TestWatchedPathBecomesExcluded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Symlinks: a manual source has no workers to read files.
	tree{"w/a.tmp": link("a"), "w/c/d": link("d"), "w/ok": link("ok")}.create(t, f.root)
	s := f.manual()
	ctx := context.Background()
	must(t, s.fullScan(ctx))
	var err error
	s.excl, err = exclude.Compile([]string{"*.tmp", "/w/c/"})
	must(t, err)
	st := &step{}
	for _, p := range []string{"w/a.tmp", "w/c/d", "w/ok"} {
		must(t, s.visitPath(ctx, st, p, false))
	}
	must(t, s.finishStep(ctx, st))
	for _, p := range []string{"w/a.tmp", "w/c/d"} {
		if rec := f.record(p); rec == nil || rec.Type != wire.Deleted || !rec.Excluded {
			t.Errorf("%s: %+v, want an excluded tombstone", p, rec)
		}
	}
	if rec := f.record("w/ok"); rec == nil || rec.Type != wire.Symlink {
		t.Errorf("w/ok: %+v", rec)
	}
}

func TestBadPatternRefused(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.Exclude = []string{"ok", "bad["}
	if _, err := New(cfg, f.nc, f.js); err == nil {
		t.Fatal("a source started with a bad pattern")
	}
}
