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
	phase(t, "generate", func() {
		must(t, treegen.Generate(src, treegen.DefaultSpec(20260501)))
	})
	cpTime := timeCopy(t, src, filepath.Join(root, "cp"))

	addr := freeAddr(t)
	url := "nats://" + addr
	broker := startBroker(t, filepath.Join(root, "broker"), addr)
	var source, replica *proc
	phase(t, "initial sync", func() {
		start := time.Now()
		source = startSource(t, "source", url, folder, src, filepath.Join(root, "source-data"))
		replica = startReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1")
		at := converge(t, convergeTimeout, url, folder, src, dst)
		t.Logf("initial sync: jetsync %.1fs, cp -a+sync %.1fs (%d files, %s)",
			at.Sub(start).Seconds(), cpTime.Seconds(), countFiles(src), du(t, src))
	})
	phase(t, "live changes", func() { liveChanges(t, url, folder, src, dst) })

	dst2 := filepath.Join(root, "dst2")
	var r2 *proc
	phase(t, "replica kill", func() {
		r2 = startReplica(t, "replica2", url, folder, dst2, filepath.Join(root, "replica2-data"), "r2")
		total := countFiles(src)
		waitForSome(dst2, 3*time.Second)
		r2.kill9()
		n := countFiles(dst2)
		t.Logf("killed replica r2 with %d of %d files applied", n, total)
		if n >= total {
			t.Logf("warning: r2 finished its initial sync before the kill; the kill tested little")
		}
		must(t, r2.start())
		converge(t, convergeTimeout, url, folder, src, dst, dst2)
		if n := countTemps(dst2); n > 0 {
			t.Errorf("%d temp files left in %s after the restarted replica converged", n, dst2)
		}
	})

	phase(t, "source kill mid-scan", func() {
		must(t, source.stop())
		// A new data dir: no index, so the source rescans everything.
		source = startSource(t, "source-rescan", url, folder, src, filepath.Join(root, "source-data-2"))
		time.Sleep(500 * time.Millisecond)
		source.kill9()
		if strings.Contains(source.lastRunLog(), "full scan done") {
			t.Logf("warning: the source finished its rescan before the kill; the kill tested little")
		}
		must(t, source.start())
		writeFile(t, filepath.Join(src, "after source kill.txt"), "written after the source was killed mid-scan\n", 0o644)
		appendTo(t, filepath.Join(src, treegen.ReadmeTxt), "one more line after the source kill\n")
		converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	phase(t, "broker restart", func() {
		must(t, broker.stop())
		writeFile(t, filepath.Join(src, "while broker down.txt"), "written while the broker was down\n", 0o600)
		must(t, broker.start())
		waitListening(t, addr)
		writeFile(t, filepath.Join(src, "after broker restart.txt"), "written after the broker came back\n", 0o644)
		must(t, os.Remove(filepath.Join(src, "after source kill.txt")))
		converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	phase(t, "broker kill", func() {
		broker.kill9()
		writeFile(t, filepath.Join(src, "while broker dead.txt"), "written after the broker was killed\n", 0o644)
		must(t, broker.start())
		waitListening(t, addr)
		must(t, os.Rename(filepath.Join(src, "while broker down.txt"), filepath.Join(src, "renamed after broker kill.txt")))
		converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	phase(t, "replica restart", func() {
		writeFile(t, filepath.Join(src, "before replica restart.txt"), "written just before a replica restart\n", 0o644)
		must(t, replica.restart())
		converge(t, convergeTimeout, url, folder, src, dst, dst2)
	})

	phase(t, "clean shutdown", func() {
		for _, p := range []*proc{replica, r2, source, broker} {
			if err := p.stop(); err != nil {
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
	must(t, os.MkdirAll(dst, 0o755))
	start := time.Now()
	if out, err := exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v %s", err, out)
	}
	if out, err := exec.Command("sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v %s", err, out)
	}
	d := time.Since(start)
	if diffs, err := treegen.Compare(src, dst); err != nil || len(diffs) > 0 {
		t.Logf("note: cp -a did not copy exactly (%v): %s", err, firstLines(strings.Join(diffs, "\n"), 5))
	}
	must(t, os.RemoveAll(dst))
	return d
}

// waitForSome waits until dir holds at least one file, up to max, and
// returns how many it holds.
func waitForSome(dir string, max time.Duration) int {
	deadline := time.Now().Add(max)
	for {
		n := countFiles(dir)
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func du(t *testing.T, dir string) string {
	t.Helper()
	var n int64
	must(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	}))
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
