package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestVerifyDetectsCorruption: a byte flipped on the replica, size and
// mtime kept, must make `jetsync verify` fail and name the file; fixing it
// must make verify pass again.
func TestVerifyDetectsCorruption(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(11)))
	tr := harness.StartTrio(t, "verify-e2e", src)
	harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	harness.Must(t, tr.Replica.Stop())

	victim := treegen.ReadmeTxt
	path := filepath.Join(tr.Dst, victim)
	flipByte(t, path)
	if diffs, _ := treegen.Compare(src, tr.Dst); len(diffs) != 1 {
		t.Fatalf("after the flip, Compare finds %d differences, want 1: %q", len(diffs), diffs)
	}
	res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst)
	if res.Code != 1 {
		t.Errorf("verify of a corrupted replica: want exit 1, got %s", res)
	}
	if !strings.Contains(res.Stdout, victim) {
		t.Errorf("verify output does not name %s:\n%s", victim, res)
	}
	res = harness.Verify(t, tr.URL, tr.Folder, tr.Dst, "--json")
	if res.Code != 1 {
		t.Errorf("verify --json of a corrupted replica: want exit 1, got %s", res)
	}
	checkVerifyJSON(t, res.Stdout, victim)

	flipByte(t, path)
	if res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst); res.Code != 0 {
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
	harness.Must(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	harness.Must(t, err)
	b := make([]byte, 1)
	off := fi.Size() / 2
	_, err = f.ReadAt(b, off)
	harness.Must(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	harness.Must(t, err)
	harness.Must(t, f.Close())
	harness.Must(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
}
