package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/treegen"
)

// liveChanges makes every kind of change to src while the daemons run,
// in batches, waiting for dst to converge after each.
func liveChanges(t *testing.T, url, folder, src, dst string) {
	at := func(rel string) string { return filepath.Join(src, filepath.FromSlash(rel)) }
	old := time.Date(2011, 3, 4, 5, 6, 7, 123456789, time.UTC)

	// Batch 1: content, names, modes, mtimes, links.
	writeFile(t, at("live/new dir/created.txt"), "created while live\n", 0o644)
	deepest := deepestDir(t, at(treegen.DeepDir))
	writeFile(t, filepath.Join(deepest, "created deep.txt"), strings.Repeat("deep ", 1000), 0o600)
	appendTo(t, at(treegen.ReadmeTxt), "appended while live\n")
	writeFile(t, at(treegen.NamesDir+"/with space.txt"), "overwritten with new content\n", 0o644)
	overwriteAt(t, at(treegen.BigFile), 50<<20+12345, 4096)
	medium := findFile(t, src, "medium-00.dat")
	fi, err := os.Stat(medium)
	must(t, err)
	must(t, os.Truncate(medium, fi.Size()/2))
	must(t, os.Truncate(at(treegen.NamesDir+"/-rf"), 0))
	must(t, os.Remove(at(treegen.NamesDir+"/--help")))
	must(t, os.RemoveAll(treeToDelete(t, src)))
	must(t, os.Rename(at(treegen.ModesDir+"/exec"), at(treegen.ModesDir+"/exec renamed")))
	must(t, os.Rename(at(treegen.NamesDir+"/a.b.c"), at("docs/a.b.c moved")))
	must(t, os.Chmod(at(treegen.ModesDir+"/private"), 0o644))
	must(t, os.Chmod(at(treegen.ModesDir+"/group"), treegen.UnixMode(0o4750)))
	must(t, os.Chmod(at(treegen.ModesDir+"/private-dir"), 0o750))
	must(t, os.Chtimes(at("docs/empty.txt"), old, old))
	must(t, os.Chtimes(at(treegen.EmptyDir), old, old))
	must(t, treegen.SetLinkMtime(at(treegen.LinksDir+"/self"), old))
	retarget(t, at(treegen.LinksDir+"/rel-file"), "../"+treegen.NamesDir+"/with space.txt")
	must(t, os.Remove(at(treegen.LinksDir+"/dangling")))
	must(t, os.Symlink("now/dangling/elsewhere", at(treegen.LinksDir+"/dangling")))
	converge(t, convergeTimeout, url, folder, src, dst)

	// Batch 2: a directory of 1,000 files changes name.
	if n := countFiles(at(treegen.ManyDir)); n != 1000 {
		t.Fatalf("%s holds %d files, want 1000", treegen.ManyDir, n)
	}
	must(t, os.Rename(at(treegen.ManyDir), at(treegen.ManyDir+" renamed")))
	converge(t, convergeTimeout, url, folder, src, dst)

	// Batch 3: a file becomes a directory, then a file again.
	flip := at(treegen.NamesDir + "/star*")
	must(t, os.Remove(flip))
	writeFile(t, filepath.Join(flip, "inside.txt"), "a file inside what was a file\n", 0o644)
	converge(t, convergeTimeout, url, folder, src, dst)
	must(t, os.RemoveAll(flip))
	writeFile(t, flip, "a file again\n", 0o600)
	converge(t, convergeTimeout, url, folder, src, dst)
}

// deepestDir follows the first subdirectory down as far as it goes.
func deepestDir(t *testing.T, dir string) string {
	t.Helper()
	for {
		ents, err := os.ReadDir(dir)
		must(t, err)
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
	must(t, err)
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "dir-") {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(src, e.Name()))
		must(t, err)
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
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
	must(t, err)
	_, err = f.WriteString(s)
	must(t, err)
	must(t, f.Close())
}

// overwriteAt rewrites n bytes in place at off, size unchanged.
func overwriteAt(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt([]byte(strings.Repeat("X", n)), off)
	must(t, err)
	must(t, f.Close())
}

// retarget replaces a symlink atomically, as `ln -sfn` on a rename does.
func retarget(t *testing.T, link, target string) {
	t.Helper()
	tmp := link + ".e2e-new"
	must(t, os.Symlink(target, tmp))
	must(t, os.Rename(tmp, link))
}
