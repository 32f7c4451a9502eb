package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "jetsync")); err != nil {
		t.Errorf("module root %s: %v", root, err)
	}
}

func TestWithoutRace(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"-race":                    "",
		"-count=1 --race -v":       "-count=1 -v",
		"-race=true -mod=readonly": "-mod=readonly",
	} {
		if got := withoutRace(in); got != want {
			t.Errorf("withoutRace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstLines(t *testing.T) {
	got := FirstLines("a\nb\nc\n", 2)
	if want := "a\nb\n… and 1 more lines"; got != want {
		t.Errorf("FirstLines = %q, want %q", got, want)
	}
	if got := FirstLines("a\nb\n", 2); got != "a\nb" {
		t.Errorf("FirstLines = %q", got)
	}
}

func TestCountFiles(t *testing.T) {
	dir := t.TempDir()
	WriteFile(t, filepath.Join(dir, "a", "b.txt"), "x", 0o644)
	WriteFile(t, filepath.Join(dir, "c.txt"), "y", 0o600)
	if n := CountFiles(dir); n != 2 {
		t.Errorf("CountFiles = %d, want 2", n)
	}
	if n := CountTemps(dir); n != 0 {
		t.Errorf("CountTemps = %d, want 0", n)
	}
	if addr := FreeAddr(t); !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("FreeAddr = %q", addr)
	}
}

// A commit the repository does not have (as in a shallow clone) skips
// the test that wants it built, rather than failing it.
func TestBuildCommitSkipsWithoutTheCommit(t *testing.T) {
	var ran bool
	t.Run("build", func(t *testing.T) {
		BuildCommit(t, "0000000000000000000000000000000000000000")
		ran = true
	})
	if ran {
		t.Error("BuildCommit of a commit that does not exist returned")
	}
}
