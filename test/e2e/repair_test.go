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

// TestScheduledVerifyAndRepair: a replica running with --verify-every
// reports in `status` a file whose bytes rotted (same size, same mtime),
// a file nobody published and the root's mtime it moved; `status --check` fails on it; `jetsync
// repair`, run with the replica stopped, fetches the file again and
// removes the extra one, and the trees are equal again.
func TestScheduledVerifyAndRepair(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(17)))
	tr := harness.StartTrioWith(t, "scrub", src, nil, []string{"--verify-every", "1s"})
	url, dst, rep := tr.URL, tr.Dst, tr.Replica
	harness.Converge(t, 2*time.Minute, url, "scrub", src, dst)
	lastVerify := func() map[string]any {
		res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--folder", "scrub", "--json", "--log-format", "text")
		var folders []struct {
			Replicas []struct {
				LastVerify map[string]any `json:"last_verify"`
			} `json:"replicas"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &folders); err != nil || len(folders) != 1 || len(folders[0].Replicas) != 1 {
			return nil
		}
		return folders[0].Replicas[0].LastVerify
	}
	harness.Eventually(t, time.Minute, func() (bool, string) {
		v := lastVerify()
		return v != nil && v["equal"] == true, "last verify: " + jsonString(v)
	})

	victim := largestFile(t, dst)
	b, err := os.ReadFile(victim)
	harness.Must(t, err)
	fi, err := os.Stat(victim)
	harness.Must(t, err)
	b[len(b)/2] ^= 0xff
	harness.Must(t, os.WriteFile(victim, b, fi.Mode()))
	harness.Must(t, os.Chtimes(victim, fi.ModTime(), fi.ModTime()))
	// Adding a file to the root changes the root's mtime too: three
	// differences.
	harness.WriteFile(t, filepath.Join(dst, "not-published.txt"), "extra", 0o644)
	harness.Eventually(t, time.Minute, func() (bool, string) {
		v := lastVerify()
		return v != nil && v["equal"] == false && v["diffs"] == 3.0, "last verify: " + jsonString(v)
	})
	res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--folder", "scrub", "--check", "--log-format", "text")
	if res.Code != 2 || !strings.Contains(res.Stdout, "last verify found 3 paths different") {
		t.Fatalf("status --check after a verify found differences: %s", res)
	}

	harness.Must(t, rep.Stop())
	res = harness.RunCLI(t, 2*time.Minute, "repair", "--nats", url, "--folder", "scrub", "--id", "r1", "--path", dst,
		"--data", tr.ReplicaData, "--log-format", "text")
	if res.Code != 0 || !strings.Contains(res.Stdout, "found 3 paths different") || !strings.Contains(res.Stdout, "repaired") {
		t.Fatalf("repair: %s", res)
	}
	if same, diff := harness.SameTree(t, src, dst); !same {
		t.Fatalf("trees differ after the repair: %s", diff)
	}
	if res := harness.Verify(t, url, "scrub", dst); res.Code != 0 {
		t.Fatalf("verify after the repair: %s", res)
	}
}

// largestFile is the biggest regular file under dir.
func largestFile(t *testing.T, dir string) string {
	var best string
	var size int64
	harness.Must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			best, size = p, fi.Size()
		}
		return err
	}))
	return best
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
