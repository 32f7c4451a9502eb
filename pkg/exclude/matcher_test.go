package exclude

import (
	"strings"
	"testing"
)

// path is a test path; a trailing "/" marks a directory.
func TestMatch(t *testing.T) {
	cases := []struct {
		patterns []string
		excluded []string // paths Excluded must report
		kept     []string // paths it must not
	}{
		{[]string{"*.tmp"}, []string{"a.tmp", "d/e/a.tmp", ".tmp", "x.tmp/"}, []string{"a.tmp.txt", "atmp", "tmp/x"}},
		{[]string{"cache/"}, []string{"cache/", "a/cache/", "cache/x", "a/cache/b/c"}, []string{"cache", "a/cache", "cachex/"}},
		{[]string{"/build"}, []string{"build", "build/", "build/x/y"}, []string{"a/build", "a/build/"}},
		{[]string{"doc/*.html"}, []string{"doc/a.html"}, []string{"doc/x/a.html", "x/doc/a.html", "a.html"}},
		{[]string{"a?c"}, []string{"abc", "x/aéc"}, []string{"ac", "abbc", "a/c"}},
		{[]string{"[a-c]x", "[!0-9]y"}, []string{"ax", "cx", "zy", "éy"}, []string{"dx", "5y", "y"}},
		{[]string{"[^0-9]y", "[]]z", "[\\]]w"}, []string{"ay", "]z", "]w"}, []string{"1y", "z", "w"}},
		{[]string{"**/logs"}, []string{"logs", "a/logs/", "a/b/logs"}, []string{"logsx"}},
		{[]string{"a/**/b"}, []string{"a/b", "a/x/b", "a/x/y/b/", "a/x/b/c"}, []string{"b", "x/a/b", "a/bb"}},
		{[]string{"a/**"}, []string{"a/x", "a/x/y"}, []string{"a", "a/", "b/a/x"}},
		{[]string{"/**/x/*.o"}, []string{"x/a.o", "p/q/x/a.o"}, []string{"x/a.c", "x/y/a.o"}},
		{[]string{"**"}, []string{"a", "a/b/"}, nil},
		{[]string{"*.log", "!keep.log"}, []string{"a.log", "d/b.log"}, []string{"keep.log", "d/keep.log"}},
		{[]string{"!keep.log", "*.log"}, []string{"keep.log"}, nil}, // the last match decides
		// An excluded directory is not walked: nothing below it comes back.
		{[]string{"cache/", "!cache/keep"}, []string{"cache/keep", "cache/"}, nil},
		{[]string{"/cache/*", "!/cache/keep"}, []string{"cache/x"}, []string{"cache/", "cache/keep", "cache/keep/y"}},
		{[]string{"\\!x", "\\#y", "\\*"}, []string{"!x", "#y", "*"}, []string{"x", "y", "a"}},
		{[]string{"a b\\ "}, []string{"a b "}, []string{"a b"}},
		{[]string{"x*y*z"}, []string{"xyz", "x_y_z", "xyyzz", "xzyz"}, []string{"xy", "xzy", "x/y/z"}},
		{[]string{"*a*b"}, []string{"ab", "aab", "xaxbab"}, []string{"aba", "ba"}},
		{[]string{"a***b"}, []string{"ab", "axxb"}, []string{"a/b"}},
		// Built in, whatever the patterns say.
		{[]string{"!.zfs", "!*"}, []string{".zfs/", ".zfs/snapshot/x", "d/.jetsync.tmp.1"}, []string{"d/.zfs", "d/.zfs/x", ".zfsx"}},
		{nil, []string{".zfs/", ".jetsync.tmp.abc"}, []string{"a", "b/c/"}},
	}
	for _, c := range cases {
		m, err := Compile(c.patterns)
		if err != nil {
			t.Fatalf("%q: %v", c.patterns, err)
		}
		for _, p := range c.excluded {
			rel, dir := strings.CutSuffix(p, "/")
			if !m.Excluded(rel, dir) {
				t.Errorf("%q: %q is not excluded", c.patterns, p)
			}
		}
		for _, p := range c.kept {
			rel, dir := strings.CutSuffix(p, "/")
			if m.Excluded(rel, dir) {
				t.Errorf("%q: %q is excluded", c.patterns, p)
			}
		}
	}
}

// Match looks at the path itself only: the walk has skipped what is below
// an excluded directory already.
func TestMatchIgnoresAncestors(t *testing.T) {
	m, err := Compile([]string{"cache/"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Match("cache/x", false) {
		t.Error("Match looked at an ancestor")
	}
	if !m.Excluded("cache/x", false) {
		t.Error("Excluded did not look at the ancestor")
	}
}

func TestNilMatcher(t *testing.T) {
	var m *Matcher
	if m.Match("a", false) || !m.Match(".zfs", true) || m.Patterns() != nil {
		t.Error("a nil matcher must exclude only the built-in paths")
	}
}

func TestCompileErrors(t *testing.T) {
	bad := map[string]string{
		"":          "empty pattern",
		"!":         "empty pattern",
		"/":         "empty pattern",
		"!/":        "empty pattern",
		"a//b":      "empty path component",
		"a/./b":     `"." and ".."`,
		"../x":      `"." and ".."`,
		"[ab":       `unterminated "["`,
		"[]":        `unterminated "["`,
		"[!]":       `unterminated "["`,
		"a[b/c]":    `unterminated "["`,
		"[z-a]":     "out of order",
		"x\\":       `"\" at the end`,
		"a\\/b":     `"\" at the end`,
		"\xff":      "UTF-8",
		"[\\":       `unterminated "["`,
		"a/[":       `unterminated "["`,
		"x//":       "empty path component",
		"//":        "empty",
		"\\":        `"\" at the end`,
		"a/**/../b": `"." and ".."`,
	}
	for p, want := range bad {
		_, err := Compile([]string{"ok", p})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "exclude pattern") {
			t.Errorf("pattern %q: error %v, want one saying %q", p, err, want)
		}
	}
	if _, err := Compile([]string{strings.Repeat("a", MaxPatternLen+1)}); err == nil {
		t.Error("an overlong pattern compiled")
	}
	if _, err := Compile(make([]string, MaxPatterns+1)); err == nil {
		t.Error("too many patterns compiled")
	}
	long := strings.Repeat("b", 1000)
	many := make([]string, MaxTotalLen/1000+1)
	for i := range many {
		many[i] = long
	}
	if _, err := Compile(many); err == nil || !strings.Contains(err.Error(), "bytes of patterns") {
		t.Errorf("patterns over the total bound: %v", err)
	}
}

func TestPatternsKeepOrder(t *testing.T) {
	in := []string{"b", "!a", "c/"}
	m, err := Compile(in)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Patterns()
	got[0] = "changed"
	if strings.Join(m.Patterns(), ",") != "b,!a,c/" {
		t.Errorf("Patterns = %q", m.Patterns())
	}
}
