package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// liveChanges makes every kind of change to src while the daemons run,
// in batches, waiting for dst to converge after each.
func liveChanges(t *testing.T, url, folder, src, dst string) {
	at := func(rel string) string { return filepath.Join(src, filepath.FromSlash(rel)) }
	old := time.Date(2011, 3, 4, 5, 6, 7, 123456789, time.UTC)

	// Batch 1: content, names, modes, mtimes, links.
	harness.WriteFile(t, at("live/new dir/created.txt"), "created while live\n", 0o644)
	deepest := deepestDir(t, at(treegen.DeepDir))
	harness.WriteFile(t, filepath.Join(deepest, "created deep.txt"), strings.Repeat("deep ", 1000), 0o600)
	appendTo(t, at(treegen.ReadmeTxt), "appended while live\n")
	harness.WriteFile(t, at(treegen.NamesDir+"/with space.txt"), "overwritten with new content\n", 0o644)
	overwriteAt(t, at(treegen.BigFile), 50<<20+12345, 4096)
	medium := findFile(t, src, "medium-00.dat")
	fi, err := os.Stat(medium)
	harness.Must(t, err)
	harness.Must(t, os.Truncate(medium, fi.Size()/2))
	harness.Must(t, os.Truncate(at(treegen.NamesDir+"/-rf"), 0))
	harness.Must(t, os.Remove(at(treegen.NamesDir+"/--help")))
	harness.Must(t, os.RemoveAll(treeToDelete(t, src)))
	harness.Must(t, os.Rename(at(treegen.ModesDir+"/exec"), at(treegen.ModesDir+"/exec renamed")))
	harness.Must(t, os.Rename(at(treegen.NamesDir+"/a.b.c"), at("docs/a.b.c moved")))
	harness.Must(t, os.Chmod(at(treegen.ModesDir+"/private"), 0o644))
	harness.Must(t, os.Chmod(at(treegen.ModesDir+"/group"), treegen.UnixMode(0o4750)))
	harness.Must(t, os.Chmod(at(treegen.ModesDir+"/private-dir"), 0o750))
	harness.Must(t, os.Chtimes(at("docs/empty.txt"), old, old))
	harness.Must(t, os.Chtimes(at(treegen.EmptyDir), old, old))
	harness.Must(t, treegen.SetLinkMtime(at(treegen.LinksDir+"/self"), old))
	retarget(t, at(treegen.LinksDir+"/rel-file"), "../"+treegen.NamesDir+"/with space.txt")
	harness.Must(t, os.Remove(at(treegen.LinksDir+"/dangling")))
	harness.Must(t, os.Symlink("now/dangling/elsewhere", at(treegen.LinksDir+"/dangling")))
	harness.Converge(t, convergeTimeout, url, folder, src, dst)

	// Batch 2: a directory of 1,000 files changes name.
	if n := harness.CountFiles(at(treegen.ManyDir)); n != 1000 {
		t.Fatalf("%s holds %d files, want 1000", treegen.ManyDir, n)
	}
	harness.Must(t, os.Rename(at(treegen.ManyDir), at(treegen.ManyDir+" renamed")))
	harness.Converge(t, convergeTimeout, url, folder, src, dst)

	// Batch 3: a file becomes a directory, then a file again.
	flip := at(treegen.NamesDir + "/star*")
	harness.Must(t, os.Remove(flip))
	harness.WriteFile(t, filepath.Join(flip, "inside.txt"), "a file inside what was a file\n", 0o644)
	harness.Converge(t, convergeTimeout, url, folder, src, dst)
	harness.Must(t, os.RemoveAll(flip))
	harness.WriteFile(t, flip, "a file again\n", 0o600)
	harness.Converge(t, convergeTimeout, url, folder, src, dst)
}

// deepestDir follows the first subdirectory down as far as it goes.
func deepestDir(t *testing.T, dir string) string {
	t.Helper()
	for {
		ents, err := os.ReadDir(dir)
		harness.Must(t, err)
		next := ""
		for _, e := range ents {
			if e.IsDir() {
				next = filepath.Join(dir, e.Name())
				break
			}
		}
		if next == "" {
			return dir
		}
		dir = next
	}
}

// treeToDelete picks a top-level generated directory that has
// subdirectories, so that deleting it deletes a tree.
func treeToDelete(t *testing.T, src string) string {
	t.Helper()
	ents, err := os.ReadDir(src)
	harness.Must(t, err)
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "dir-") {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(src, e.Name()))
		harness.Must(t, err)
		for _, s := range sub {
			if s.IsDir() {
				return filepath.Join(src, e.Name())
			}
		}
	}
	t.Fatal("no generated directory with subdirectories")
	return ""
}

func findFile(t *testing.T, root, name string) string {
	t.Helper()
	var found string
	harness.Must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && found == "" && d.Name() == name && d.Type().IsRegular() {
			found = p
		}
		return err
	}))
	if found == "" {
		t.Fatalf("no %s under %s", name, root)
	}
	return found
}

func appendTo(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	harness.Must(t, err)
	_, err = f.WriteString(s)
	harness.Must(t, err)
	harness.Must(t, f.Close())
}

// overwriteAt rewrites n bytes in place at off, size unchanged.
func overwriteAt(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	harness.Must(t, err)
	_, err = f.WriteAt([]byte(strings.Repeat("X", n)), off)
	harness.Must(t, err)
	harness.Must(t, f.Close())
}

// retarget replaces a symlink atomically, as `ln -sfn` on a rename does.
func retarget(t *testing.T, link, target string) {
	t.Helper()
	tmp := link + ".e2e-new"
	harness.Must(t, os.Symlink(target, tmp))
	harness.Must(t, os.Rename(tmp, link))
}
