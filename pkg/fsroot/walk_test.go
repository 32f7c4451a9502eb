package fsroot

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

func TestWalk(t *testing.T) {
	r, _ := newRoot(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, r, "b/y", "x")
	writeFile(t, r, "a/z", "x")
	writeFile(t, r, "a/c/d", "x")
	mustSymlink(t, r, outside, "a/out")
	mustSymlink(t, r, "c", "a/in")
	leaveTemp(t, r, "a/f")
	want := []string{"a d", "a/c d", "a/c/d -", "a/in L", "a/out L", "a/z -", "b d", "b/y -"}
	if got := walkAll(t, r, nil); !slices.Equal(got, want) {
		t.Errorf("Walk = %q\nwant %q", got, want)
	}
	skipC := func(p string) error {
		if p == "a/c" {
			return fs.SkipDir
		}
		if p == "a/out" {
			return fs.SkipDir // skips the rest of a
		}
		return nil
	}
	want = []string{"a d", "a/c d", "a/in L", "a/out L", "b d", "b/y -"}
	if got := walkAll(t, r, skipC); !slices.Equal(got, want) {
		t.Errorf("Walk with SkipDir = %q\nwant %q", got, want)
	}
	stopAtB := func(p string) error {
		if p == "b" {
			return fs.SkipAll
		}
		return nil
	}
	if got := walkAll(t, r, stopAtB); len(got) != 7 {
		t.Errorf("Walk with SkipAll = %q", got)
	}
}

// walkAll lists the walk as "path kind", kind d, L or - for the rest.
func walkAll(t *testing.T, r *Root, hook func(string) error) []string {
	t.Helper()
	var got []string
	err := r.Walk(func(p string, d fs.DirEntry) error {
		kind := "-"
		switch {
		case d.IsDir():
			kind = "d"
		case d.Type()&fs.ModeSymlink != 0:
			kind = "L"
		}
		got = append(got, p+" "+kind)
		if hook != nil {
			return hook(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// leaveTemp creates a temp file the way a crash would leave it.
func leaveTemp(t testing.TB, r *Root, path string) string {
	t.Helper()
	tmp, err := r.CreateTemp(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp.f.Close()
	tmp.f = nil
	return tmp.Name()
}

func TestCleanTemps(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "keep", "x")
	writeFile(t, r, "d/keep", "x")
	leaveTemp(t, r, "x")
	leaveTemp(t, r, "d/e/y")
	if err := os.Symlink("keep", filepath.Join(dir, wire.TempPrefix+"link")); err != nil {
		t.Fatal(err)
	}
	n, err := r.CleanTemps()
	if err != nil || n != 3 {
		t.Fatalf("CleanTemps = %d, %v; want 3", n, err)
	}
	assertOnly(t, dir, "d", "keep")
	assertOnly(t, filepath.Join(dir, "d"), "e", "keep")
	assertEmpty(t, filepath.Join(dir, "d", "e"))
	if n, err := r.CleanTemps(); n != 0 || err != nil {
		t.Errorf("second CleanTemps = %d, %v", n, err)
	}
}

// TestConcurrentSiblings applies many files into the same new directories
// at once, as parallel appliers do, where a file stands in the way (each
// round: several of them find the file and race to replace it).
func TestConcurrentSiblings(t *testing.T) {
	for round := range 30 {
		t.Run(fmt.Sprint(round), concurrentSiblings)
	}
}

func concurrentSiblings(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "a", "a file where a directory will be")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			writeFile(t, r, fmt.Sprintf("a/b/c/f%d", i), "x")
			if err := r.Mkdir(fmt.Sprintf("a/b/d%d", i), 0o755); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	entries, err := os.ReadDir(filepath.Join(dir, "a", "b", "c"))
	if err != nil || len(entries) != 16 {
		t.Errorf("a/b/c holds %d entries, %v", len(entries), err)
	}
}
