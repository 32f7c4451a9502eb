package treegen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

func TestDefaultPlanHasEverything(t *testing.T) {
	p := makePlan(DefaultSpec(1))
	var small, medium, big, deepest int
	for _, f := range p.files {
		switch {
		case f.size <= 64<<10:
			small++
		case f.size >= 100<<10 && f.size <= 5<<20:
			medium++
		case f.size >= 100<<20:
			big++
		}
	}
	for _, d := range p.dirs {
		deepest = max(deepest, depth(d.path)+1)
	}
	if n := len(p.files); n < 5000 {
		t.Errorf("%d files, want at least 5000", n)
	}
	if small < 4500 || medium < 5 || big != 1 {
		t.Errorf("sizes: %d small, %d medium, %d big", small, medium, big)
	}
	if deepest < 6 {
		t.Errorf("nesting %d levels, want at least 6", deepest)
	}
	if len(p.links) < 5 {
		t.Errorf("%d symlinks", len(p.links))
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	a, b := makePlan(DefaultSpec(7)), makePlan(DefaultSpec(7))
	if !slices.Equal(a.files, b.files) || !slices.Equal(a.dirs, b.dirs) || !slices.Equal(a.links, b.links) {
		t.Fatal("same seed, different plans")
	}
	if c := makePlan(DefaultSpec(8)); slices.Equal(a.files, c.files) {
		t.Fatal("different seeds, same plan")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{a, b} {
		if err := Generate(d, SmallSpec(3)); err != nil {
			t.Fatal(err)
		}
	}
	diffs, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("same seed, different trees:\n%s", strings.Join(diffs, "\n"))
	}
	checkSpecials(t, a)
}

// checkSpecials looks at the generated tree on disk, not at the plan.
func checkSpecials(t *testing.T, root string) {
	t.Helper()
	must := func(rel string, check func(os.FileInfo) bool, what string) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return
		}
		if !check(fi) {
			t.Errorf("%s: not %s (mode %v)", rel, what, fi.Mode())
		}
	}
	isLink := func(fi os.FileInfo) bool { return fi.Mode()&os.ModeSymlink != 0 }
	must(EmptyDir, os.FileInfo.IsDir, "a directory")
	must(LinksDir+"/dangling", isLink, "a symlink")
	must(LinksDir+"/abs", isLink, "a symlink")
	must(NamesDir+"/-rf", func(fi os.FileInfo) bool { return fi.Mode().IsRegular() }, "a file")
	must(NamesDir+"/"+LongUnicodeName, func(fi os.FileInfo) bool { return len(fi.Name()) == 255 }, "255 bytes long")
	must(ModesDir+"/suid", func(fi os.FileInfo) bool { return PermBits(fi.Mode()) == 0o4755 }, "mode 4755")
	must(ModesDir+"/sticky", func(fi os.FileInfo) bool { return PermBits(fi.Mode()) == 0o1777 }, "mode 1777")
	must(ModesDir+"/setgid-dir/child", func(fi os.FileInfo) bool { return PermBits(fi.Mode()) == 0o755 }, "mode 0755")
	must(LinksDir+"/self", func(fi os.FileInfo) bool { return fi.ModTime().Year() < 2025 }, "an old link")
	must(DeepDir, func(fi os.FileInfo) bool { return fi.ModTime().Year() < 2025 }, "an old dir")
	if ents, err := os.ReadDir(filepath.Join(root, EmptyDir)); err != nil || len(ents) != 0 {
		t.Errorf("%s: %d entries, %v", EmptyDir, len(ents), err)
	}
}

func TestCompareFindsEachDifference(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{a, b} {
		if err := Generate(d, SmallSpec(5)); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := []struct {
		name, path, want string
		change           func(p string) error
	}{
		{"content", ReadmeTxt, "content sha256", func(p string) error { return flipByte(p) }},
		{"size", NamesDir + "/-rf", "size", func(p string) error { return appendTo(p, "x") }},
		{"mode", ModesDir + "/suid", "mode 4755 in a, 0755 in b", func(p string) error { return os.Chmod(p, 0o755) }},
		{"file mtime", ModesDir + "/exec", "file mtime", func(p string) error { return os.Chtimes(p, old, old) }},
		{"dir mtime", EmptyDir, "dir mtime", func(p string) error { return os.Chtimes(p, old, old) }},
		{"link mtime", LinksDir + "/self", "symlink mtime", func(p string) error { return SetLinkMtime(p, old) }},
		{"target", LinksDir + "/dangling", "symlink target", func(p string) error { return relink(p, "elsewhere") }},
		{"type", LinksDir + "/abs", "type symlink in a, file in b", func(p string) error { return replaceByFile(p) }},
		{"extra", "docs/new", "only in b", func(p string) error { return os.WriteFile(p, nil, 0o644) }},
		{"missing", DeepDir, "only in a", os.RemoveAll},
	}
	for _, c := range cases {
		if err := c.change(filepath.Join(b, c.path)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(b, "docs", wire.TempPrefix+"123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	diffs, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(diffs, "\n")
	for _, c := range cases {
		if !slices.ContainsFunc(diffs, func(d string) bool {
			return strings.Contains(d, `"`+c.path+`"`) && strings.Contains(d, c.want)
		}) {
			t.Errorf("%s: no difference %q for %s in:\n%s", c.name, c.want, c.path, all)
		}
	}
	if strings.Contains(all, wire.TempPrefix) {
		t.Errorf("temp file reported:\n%s", all)
	}
	meta, err := CompareMeta(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != len(diffs)-1 {
		t.Errorf("CompareMeta: %d differences, want %d (all but content)", len(meta), len(diffs)-1)
	}
}

func flipByte(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0); err != nil {
		return err
	}
	return os.Chtimes(p, fi.ModTime(), fi.ModTime())
}

func appendTo(p, s string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(p, fi.ModTime(), fi.ModTime())
}

func relink(p, target string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return err
	}
	if err := os.Symlink(target, p); err != nil {
		return err
	}
	return SetLinkMtime(p, fi.ModTime())
}

func replaceByFile(p string) error {
	if err := os.Remove(p); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o644)
}
