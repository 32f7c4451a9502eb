package exclude

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	in := "# build output\n\n/build\n*.tmp   \r\n  \n\\#literal\nname\\ \n!keep.tmp\n   # not a comment\n"
	got, err := ParseFile(strings.NewReader(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/build", "*.tmp", "\\#literal", "name\\ ", "!keep.tmp", "   # not a comment"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseFileErrorNamesLine(t *testing.T) {
	_, err := ParseFile(strings.NewReader("ok\n# c\n\nbad[\n"), "pats")
	if err == nil || !strings.HasPrefix(err.Error(), "pats:4: ") || !strings.Contains(err.Error(), "unterminated") {
		t.Errorf("error %v, want one naming pats:4", err)
	}
	_, err = ParseFile(strings.NewReader(strings.Repeat("a", MaxPatternLen+10)+"\n"), "long")
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("overlong line: %v", err)
	}
	lines := strings.Repeat("a\n", MaxPatterns+1)
	_, err = ParseFile(strings.NewReader(lines), "many")
	if err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("too many lines: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ex")
	if err := os.WriteFile(p, []byte("*.o\ncache/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(p)
	if err != nil || !slices.Equal(got, []string{"*.o", "cache/"}) {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if _, err := ReadFile(p + ".missing"); err == nil {
		t.Error("a missing file read")
	}
}

func TestTrimLine(t *testing.T) {
	for in, want := range map[string]string{
		"a  ":      "a",
		"a\\ ":     "a\\ ",
		"a\\  ":    "a\\ ",
		"a\\\\ ":   "a\\\\",
		"a\\\\\\ ": "a\\\\\\ ",
		"   ":      "",
		"a\r":      "a",
	} {
		if got := trimLine(in); got != want {
			t.Errorf("trimLine(%q) = %q, want %q", in, got, want)
		}
	}
}
