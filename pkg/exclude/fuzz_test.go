package exclude

import (
	"path"
	"strings"
	"testing"
)

// FuzzCompile feeds pattern files to the parser and the matcher: neither
// may panic, and what compiles must agree with a slow reference for the
// patterns path.Match can express.
func FuzzCompile(f *testing.F) {
	f.Add("*.tmp\ncache/\n!keep\n", "a/cache/b.tmp", true)
	f.Add("/a/**/b\n[a-c]?\n", "a/x/y/b", false)
	f.Add("[!]]x\n\\#y\n", "]x", false)
	f.Add("a/**\n**/z\n", "a/z", true)
	f.Add("[z-a]\n", "q", false)
	f.Add("x*y*z*w*v*u\n", strings.Repeat("x", 60), false)
	f.Fuzz(func(t *testing.T, file, rel string, isDir bool) {
		pats, err := ParseFile(strings.NewReader(file), "f")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		m, err := Compile(pats)
		if err != nil {
			t.Fatalf("checked patterns do not compile: %v", err)
		}
		if strings.Contains(rel, "//") || strings.HasPrefix(rel, "/") || strings.HasSuffix(rel, "/") || rel == "" {
			return // not a path
		}
		got := m.Match(rel, isDir)
		_ = m.Excluded(rel, isDir)
		if Builtin(rel) {
			if !got {
				t.Fatalf("built-in path %q not matched", rel)
			}
			return
		}
		if want, ok := reference(pats, rel, isDir); ok && got != want {
			t.Fatalf("patterns %q, path %q (dir %v): Match %v, reference %v", pats, rel, isDir, got, want)
		}
	})
}

// FuzzMatch matches one pattern against one path, both arbitrary.
func FuzzMatch(f *testing.F) {
	f.Add("*.o", "a/b.o", false)
	f.Add("a/**/b/", "a/b", true)
	f.Add("[\\", "x", false)
	f.Fuzz(func(t *testing.T, pat, rel string, isDir bool) {
		m, err := Compile([]string{pat})
		if err != nil {
			return
		}
		if rel == "" {
			return
		}
		_ = m.Match(rel, isDir)
		_ = m.Excluded(rel, isDir)
	})
}

// reference decides the simple patterns (no "**", no "\", no "[" which
// path.Match reads differently) the slow way; ok is false for others.
func reference(pats []string, rel string, isDir bool) (excluded, ok bool) {
	for _, p := range pats {
		if strings.ContainsAny(p, "[\\") || strings.Contains(p, "**") {
			return false, false
		}
	}
	for _, p := range pats {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		dirOnly := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		if dirOnly && !isDir {
			continue
		}
		var hit bool
		if strings.Contains(p, "/") {
			hit, _ = path.Match(strings.TrimPrefix(p, "/"), rel)
		} else {
			hit, _ = path.Match(p, path.Base(rel))
		}
		if hit {
			excluded = !neg
		}
	}
	return excluded, true
}
