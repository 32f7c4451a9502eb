package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// convergeTimeout bounds each wait for the replicas to catch up.
const convergeTimeout = 3 * time.Minute

// TestTwoBoxesPhases runs the two-box layout as separate processes (a
// broker, a source, replicas) through an initial sync, live changes of
// every kind, and kills and restarts of each party.
func TestTwoBoxesPhases(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "tank-e2e"
	harness.Phase(t, "generate", func() {
		harness.Must(t, treegen.Generate(src, treegen.DefaultSpec(20260501)))
	})
	cpTime := timeCopy(t, src, filepath.Join(root, "cp"))

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	broker := harness.StartBroker(t, filepath.Join(root, "broker"), addr)
	var source, replica *harness.Proc
	harness.Phase(t, "initial sync", func() {
		start := time.Now()
		source = harness.StartSource(t, "source", url, folder, src, filepath.Join(root, "source-data"))
		replica = harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1")
		at := harness.Converge(t, convergeTimeout, url, folder, src, dst)
		t.Logf("initial sync: jetsync %.1fs, cp -a+sync %.1fs (%d files, %s)",
			at.Sub(start).Seconds(), cpTime.Seconds(), harness.CountFiles(src), du(t, src))
	})
	harness.Phase(t, "live changes", func() { liveChanges(t, url, folder, src, dst) })

	dst2 := filepath.Join(root, "dst2")
	var r2 *harness.Proc
	harness.Phase(t, "replica kill", func() {
		r2 = harness.StartReplica(t, "replica2", url, folder, dst2, filepath.Join(root, "replica2-data"), "r2")
		total := harness.CountFiles(src)
		waitForSome(dst2, 3*time.Second)
		r2.Kill9()
		n := harness.CountFiles(dst2)
		t.Logf("killed replica r2 with %d of %d files applied", n, total)
		if n >= total {
			t.Logf("warning: r2 finished its initial sync before the kill; the kill tested little")
		}
		harness.Must(t, r2.Start())
		harness.Converge(t, convergeTimeout, url, folder, src, dst, dst2)
		if n := harness.CountTemps(dst2); n > 0 {
			t.Errorf("%d temp files left in %s after the restarted replica converged", n, dst2)
		}
	})

	harness.Phase(t, "source kill mid-scan", func() {
		harness.Must(t, source.Stop())
		// A new data dir: no index, so the source rescans everything.
		source = harness.StartSource(t, "source-rescan", url, folder, src, filepath.Join(root, "source-data-2"))
		time.Sleep(500 * time.Millisecond)
		source.Kill9()
		if strings.Contains(source.LastRunLog(), "full scan done") {
			t.Logf("warning: the source finished its rescan before the kill; the kill tested little")
		}
		harness.Must(t, source.Start())
		harness.WriteFile(t, filepath.Join(src, "after source kill.txt"), "written after the source was killed mid-scan\n", 0o644)
		appendTo(t, filepath.Join(src, treegen.ReadmeTxt), "one more line after the source kill\n")
		harness.Converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	harness.Phase(t, "broker restart", func() {
		harness.Must(t, broker.Stop())
		harness.WriteFile(t, filepath.Join(src, "while broker down.txt"), "written while the broker was down\n", 0o600)
		harness.Must(t, broker.Start())
		harness.WaitListening(t, addr)
		harness.WriteFile(t, filepath.Join(src, "after broker restart.txt"), "written after the broker came back\n", 0o644)
		harness.Must(t, os.Remove(filepath.Join(src, "after source kill.txt")))
		harness.Converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	harness.Phase(t, "broker kill", func() {
		broker.Kill9()
		harness.WriteFile(t, filepath.Join(src, "while broker dead.txt"), "written after the broker was killed\n", 0o644)
		harness.Must(t, broker.Start())
		harness.WaitListening(t, addr)
		harness.Must(t, os.Rename(filepath.Join(src, "while broker down.txt"), filepath.Join(src, "renamed after broker kill.txt")))
		harness.Converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	harness.Phase(t, "replica restart", func() {
		harness.WriteFile(t, filepath.Join(src, "before replica restart.txt"), "written just before a replica restart\n", 0o644)
		harness.Must(t, replica.Restart())
		harness.Converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	harness.Phase(t, "clean shutdown", func() {
		for _, p := range []*harness.Proc{replica, r2, source, broker} {
			if err := p.Stop(); err != nil {
				t.Error(err)
			}
		}
	})
}

// timeCopy measures `cp -a src/. dst/` plus `sync`, the baseline for the
// initial sync, after flushing what the generator left dirty.
func timeCopy(t *testing.T, src, dst string) time.Duration {
	t.Helper()
	if out, err := exec.Command("sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v %s", err, out)
	}
	harness.Must(t, os.MkdirAll(dst, 0o755))
	start := time.Now()
	if out, err := exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v %s", err, out)
	}
	if out, err := exec.Command("sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v %s", err, out)
	}
	d := time.Since(start)
	if diffs, err := treegen.Compare(src, dst); err != nil || len(diffs) > 0 {
		t.Logf("note: cp -a did not copy exactly (%v): %s", err, harness.FirstLines(strings.Join(diffs, "\n"), 5))
	}
	harness.Must(t, os.RemoveAll(dst))
	return d
}

// waitForSome waits until dir holds at least one file, up to max, and
// returns how many it holds.
func waitForSome(dir string, max time.Duration) int {
	deadline := time.Now().Add(max)
	for {
		n := harness.CountFiles(dir)
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func du(t *testing.T, dir string) string {
	t.Helper()
	var n int64
	harness.Must(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	}))
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
