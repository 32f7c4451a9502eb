package fsroot

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzEnsureParentsConfined feeds arbitrary paths to every mutating call
// of a root whose tree holds symlinks leading out of it, and checks that
// nothing outside the root is created, changed or removed.
func FuzzEnsureParentsConfined(f *testing.F) {
	for _, seed := range []string{"abs/x", "abs", "rel/x", "in/x/y", "canary", "canary/x",
		"../sentinel/x", "a/../../sentinel/x", "/tmp/x", "x\x00y", "", ".", "a//b", "abs/../x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		base := t.TempDir()
		sentinel, canary := outsideFixtures(t, base)
		r := confinedRoot(t, base, sentinel, canary)
		defer r.Close()
		exercise(r, path)
		checkOutside(t, base, sentinel, canary)
	})
}

func outsideFixtures(t *testing.T, base string) (sentinel, canary string) {
	sentinel = filepath.Join(base, "sentinel")
	canary = filepath.Join(base, "canary")
	if err := os.Mkdir(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(canary, []byte("canary"), 0o644); err != nil {
		t.Fatal(err)
	}
	return sentinel, canary
}

func confinedRoot(t *testing.T, base, sentinel, canary string) *Root {
	dir := filepath.Join(base, "root")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"abs": sentinel, "rel": "../sentinel", "in": "sub", "canary": canary}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// exercise runs every call that writes; their errors do not matter here.
func exercise(r *Root, path string) {
	if f, err := r.Open(path); err == nil {
		f.Close()
	}
	r.SetMeta(path, 0o600, testTime)
	r.RemoveAll(path)
	r.EnsureParents(path)
	if tmp, err := r.CreateTemp(path); err == nil {
		tmp.Write([]byte("x"))
		tmp.Commit(0o644, testTime)
	}
	r.SetMeta(path, 0o600, testTime)
	r.Symlink(path, path, testTime)
	r.Mkdir(path, 0o700)
	r.RemoveAll(path)
	r.CleanTemps()
}

func checkOutside(t *testing.T, base, sentinel, canary string) {
	entries, err := os.ReadDir(sentinel)
	if err != nil || len(entries) != 0 {
		t.Fatalf("sentinel dir: %d entries, %v", len(entries), err)
	}
	fi, err := os.Stat(canary)
	if err != nil || fi.Mode().Perm() != 0o644 || readFile(t, canary) != "canary" {
		t.Fatalf("canary changed: %v, %v", fi, err)
	}
	if fi, _ := os.Stat(sentinel); fi.Mode().Perm() != 0o755 {
		t.Fatalf("sentinel mode changed to %v", fi.Mode())
	}
	assertOnly(t, base, "canary", "root", "sentinel")
}
