package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// --exclude and --exclude-from keep command-line order; a bad pattern in
// a file is refused with its line.
func TestExcludeFlags(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte("# scratch\n*.tmp\n\ncache/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("ok\n[x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ef excludeFlags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	ef.register(fs)
	if _, err := parse(fs, []string{"--exclude", "a", "--exclude-from", good, "--exclude", "!b"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "*.tmp", "cache/", "!b"}; !slices.Equal(ef.patterns, want) {
		t.Errorf("patterns %q, want %q", ef.patterns, want)
	}
	_, err := parse(fs, []string{"--exclude-from", bad})
	if err == nil || !strings.Contains(err.Error(), bad+":2:") {
		t.Errorf("bad file: %v", err)
	}
}
