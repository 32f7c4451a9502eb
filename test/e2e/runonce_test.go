package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestRunOnce: the all-in-one command with --once copies a small tree and
// exits 0 once DST equals SRC.
func TestRunOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(12)))
	start := time.Now()
	res := harness.RunCLI(t, time.Minute, "run", src, dst, "--data", filepath.Join(dir, "data"), "--once", "--log-format", "text")
	if res.Code != 0 {
		t.Fatalf("jetsync run --once: %s", res)
	}
	t.Logf("run --once: %d files in %s", harness.CountFiles(src), time.Since(start).Round(time.Millisecond))
	diffs, err := treegen.Compare(src, dst)
	harness.Must(t, err)
	if len(diffs) > 0 {
		t.Fatalf("run --once exited 0 but DST differs from SRC in %d ways:\n%s\n%s",
			len(diffs), harness.FirstLines(strings.Join(diffs, "\n"), 20), res)
	}
}
