package fsroot

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMkdir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, r *Root)
		mode  fs.FileMode
	}{
		{"missing", func(*testing.T, *Root) {}, 0o750},
		{"missing with sticky", func(*testing.T, *Root) {}, 0o777 | fs.ModeSticky},
		{"existing", func(t *testing.T, r *Root) { mustMkdir(t, r, "d", 0o700) }, 0o755},
		{"file", func(t *testing.T, r *Root) { writeFile(t, r, "d", "x") }, 0o755},
		{"symlink", func(t *testing.T, r *Root) { mustSymlink(t, r, "elsewhere", "d") }, 0o711},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, dir := newRoot(t)
			tt.setup(t, r)
			if err := r.Mkdir("d", tt.mode); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(filepath.Join(dir, "d"))
			if err != nil || !fi.IsDir() || Perm(fi.Mode()) != tt.mode {
				t.Errorf("d is %v, %v; want a directory with mode %v", fi, err, tt.mode)
			}
		})
	}
}

func mustMkdir(t testing.TB, r *Root, path string, mode fs.FileMode) {
	t.Helper()
	if err := r.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t testing.TB, r *Root, target, path string) {
	t.Helper()
	if err := r.Symlink(target, path, testTime); err != nil {
		t.Fatal(err)
	}
}

func TestSymlink(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, r *Root)
	}{
		{"missing", func(*testing.T, *Root) {}},
		{"over file", func(t *testing.T, r *Root) { writeFile(t, r, "l", "x") }},
		{"over dir", func(t *testing.T, r *Root) { writeFile(t, r, "l/sub/f", "x") }},
		{"over symlink", func(t *testing.T, r *Root) { mustSymlink(t, r, "old", "l") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, dir := newRoot(t)
			writeFile(t, r, "target", "content")
			tt.setup(t, r)
			mustSymlink(t, r, "target", "l")
			got, err := r.Readlink("l")
			if err != nil || got != "target" {
				t.Fatalf("Readlink = %q, %v", got, err)
			}
			fi, err := os.Lstat(filepath.Join(dir, "l"))
			if err != nil || !fi.ModTime().Equal(testTime) {
				t.Errorf("link mtime %v, %v; want %v", fi.ModTime(), err, testTime)
			}
			assertOnly(t, dir, "l", "target")
		})
	}
}

func assertOnly(t testing.TB, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("%s holds %q, want %q", dir, got, names)
		}
	}
}

func TestSymlinkKeepsAbsoluteTarget(t *testing.T) {
	r, dir := newRoot(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(outside)
	mustSymlink(t, r, outside, "abs")
	mustSymlink(t, r, "../../etc", "up")
	if got, _ := os.Readlink(filepath.Join(dir, "abs")); got != outside {
		t.Errorf("abs -> %q", got)
	}
	after, _ := os.Stat(outside)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("the link's target was touched")
	}
}

func TestSetMeta(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "f", "x")
	mustMkdir(t, r, "d", 0o755)
	mustSymlink(t, r, "f", "l")
	later := testTime.Add(time.Hour)
	for _, p := range []string{"f", "d"} {
		if err := r.SetMeta(p, 0o700, later); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(filepath.Join(dir, p))
		if fi.Mode().Perm() != 0o700 || !fi.ModTime().Equal(later) {
			t.Errorf("%s: %v %v", p, fi.Mode(), fi.ModTime())
		}
	}
	if err := r.SetMeta("l", 0o777, testTime.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(filepath.Join(dir, "l"))
	target, _ := os.Lstat(filepath.Join(dir, "f"))
	if !fi.ModTime().Equal(testTime.Add(2*time.Hour)) || !target.ModTime().Equal(later) ||
		target.Mode().Perm() != 0o700 {
		t.Errorf("link %v, target %v %v", fi.ModTime(), target.Mode(), target.ModTime())
	}
}

func TestRemoveAll(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "tree/a/b", "x")
	writeFile(t, r, "other/keep", "x")
	mustSymlink(t, r, "other", "link")
	for _, p := range []string{"tree", "missing", "missing/deeper", "link/keep"} {
		if err := r.RemoveAll(p); err != nil {
			t.Errorf("RemoveAll(%s) = %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "other", "keep")); err != nil {
		t.Errorf("removal through a symlinked parent: %v", err)
	}
	assertOnly(t, dir, "link", "other")
}

func TestSyncDir(t *testing.T) {
	r, _ := newRoot(t)
	mustMkdir(t, r, "d", 0o755)
	writeFile(t, r, "f", "x")
	for _, p := range []string{"", "d"} {
		if err := r.SyncDir(p); err != nil {
			t.Errorf("SyncDir(%q) = %v", p, err)
		}
	}
	if err := r.SyncDir("f"); err == nil {
		t.Error("SyncDir on a file succeeded")
	}
}
