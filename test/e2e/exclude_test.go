package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestExclude runs a source with exclusion patterns and a replica whose
// tree already holds an excluded file: the excluded paths and .zfs at the
// source's root are never replicated, the replica's excluded file
// survives its first reconcile (which removes a stray file all the same),
// and `jetsync verify` finds the replica equal.
func TestExclude(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeTree(t, src, map[string]string{
		"keep.txt":             "kept",
		"a/b.txt":              "kept too",
		"a/c.tmp":              "scratch",
		"cache/x":              "cached",
		"a/cache/y":            "cached",
		"a/cache.txt":          "a file: kept",
		".zfs/snapshot/x/keep": "a snapshot",
	})
	writeTree(t, dst, map[string]string{
		"old.tmp":     "the replica's own",
		"cache/local": "the replica's own",
		"stray.txt":   "not on the source",
	})
	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	const folder = "exclude-e2e"
	harness.StartBroker(t, filepath.Join(dir, "broker"), addr)
	harness.StartSource(t, "source", url, folder, src, filepath.Join(dir, "source"),
		"--exclude", "*.tmp", "--exclude", "cache/")
	harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(dir, "replica"), "r1")

	var res harness.CLIResult
	harness.Eventually(t, 2*time.Minute, func() (bool, string) {
		if _, err := os.Lstat(filepath.Join(dst, "stray.txt")); !os.IsNotExist(err) {
			return false, "the replica's reconcile has not removed stray.txt"
		}
		if !same(dst, "a/cache.txt", "a file: kept") || !same(dst, "keep.txt", "kept") {
			return false, "the replica has not applied the tree"
		}
		res = harness.Verify(t, url, folder, dst)
		return res.Code == 0, "verify: " + res.String()
	})
	if !strings.Contains(res.Stdout, "excluded: 2 local paths skipped") {
		t.Errorf("verify does not count the replica's excluded paths:\n%s", res)
	}
	for p, want := range map[string]string{"old.tmp": "the replica's own", "cache/local": "the replica's own", "a/b.txt": "kept too"} {
		if !same(dst, p, want) {
			t.Errorf("%s is not %q on the replica", p, want)
		}
	}
	for _, p := range []string{"a/c.tmp", "cache/x", "a/cache", ".zfs"} {
		if _, err := os.Lstat(filepath.Join(dst, p)); !os.IsNotExist(err) {
			t.Errorf("excluded %s replicated: %v", p, err)
		}
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(root, p)
		harness.Must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		harness.Must(t, os.WriteFile(full, []byte(data), 0o644))
	}
}

func same(root, p, want string) bool {
	b, err := os.ReadFile(filepath.Join(root, p))
	return err == nil && string(b) == want
}
