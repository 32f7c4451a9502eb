package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/treegen"
)

// TestVerifyDetectsCorruption: a byte flipped on the replica, size and
// mtime kept, must make `jetsync verify` fail and name the file; fixing it
// must make verify pass again.
func TestVerifyDetectsCorruption(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	must(t, treegen.Generate(src, treegen.SmallSpec(11)))
	tr := startTrio(t, "verify-e2e", src)
	converge(t, 2*time.Minute, tr.url, tr.folder, src, tr.dst)
	must(t, tr.replica.stop())

	victim := treegen.ReadmeTxt
	path := filepath.Join(tr.dst, victim)
	flipByte(t, path)
	if diffs, _ := treegen.Compare(src, tr.dst); len(diffs) != 1 {
		t.Fatalf("after the flip, Compare finds %d differences, want 1: %q", len(diffs), diffs)
	}
	res := verifyCmd(t, tr.url, tr.folder, tr.dst)
	if res.code != 1 {
		t.Errorf("verify of a corrupted replica: want exit 1, got %s", res)
	}
	if !strings.Contains(res.stdout, victim) {
		t.Errorf("verify output does not name %s:\n%s", victim, res)
	}
	res = verifyCmd(t, tr.url, tr.folder, tr.dst, "--json")
	if res.code != 1 {
		t.Errorf("verify --json of a corrupted replica: want exit 1, got %s", res)
	}
	checkVerifyJSON(t, res.stdout, victim)

	flipByte(t, path)
	if res := verifyCmd(t, tr.url, tr.folder, tr.dst); res.code != 0 {
		t.Errorf("verify after the repair: want exit 0, got %s", res)
	}
}

// checkVerifyJSON wants the report to say "not equal" and list path.
func checkVerifyJSON(t *testing.T, out, path string) {
	t.Helper()
	var rep struct {
		Equal *bool `json:"equal"`
		Diffs []struct {
			Path string `json:"path"`
			Kind string `json:"kind"`
		} `json:"diffs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	if rep.Equal == nil || *rep.Equal {
		t.Errorf("verify --json: equal is not false:\n%s", out)
	}
	for _, d := range rep.Diffs {
		if d.Path == path {
			return
		}
	}
	t.Errorf("verify --json does not list %s:\n%s", path, out)
}

// flipByte inverts the middle byte of a file and puts its mtime back, so
// that only the content differs.
func flipByte(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	b := make([]byte, 1)
	off := fi.Size() / 2
	_, err = f.ReadAt(b, off)
	must(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	must(t, err)
	must(t, f.Close())
	must(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
}
