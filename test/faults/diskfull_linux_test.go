//go:build linux

package faults

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// freedTimeout bounds the wait for a replica to converge once space is
// freed: its apply retries back off exponentially, to 30 s at most.
const freedTimeout = 45 * time.Second

// TestReplicaDiskFull gives the replica a tree on an 8 MiB tmpfs (its
// index lives elsewhere) and makes the source publish more than fits:
// three 3 MiB files on top of a tree of small files. The replica must say
// clearly that the disk is full and count it
// (jetsync_replica_errors_total{kind="no_space"}); what it already
// applied must stay intact, and no partial file may appear under a final
// name. Space is then freed twice, the two ways an operator would: the
// file that does not fit is deleted on the source (so it is no longer
// needed), and later, after the disk fills again, the filesystem is grown.
// Each time the replica must converge by itself.
func TestReplicaDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs as the replica's tree")
	}
	t.Parallel()
	r := newRig(t, "disk-full")
	mountTmpfs(t, r.dst, "8m")

	harness.Phase(t, "initial sync of small files", func() {
		for d := range 5 {
			for f := range 12 {
				writeFile(t, r.src, fmt.Sprintf("small/d%d/f%02d.txt", d, f), textBytes(uint64(5000+d*100+f), 1000+f*500))
			}
		}
		r.startAll()
		r.converge()
	})

	const big = 3 << 20
	bigs := []string{"big/one.bin", "big/two.bin", "big/three.bin"}
	older := map[string][]byte{} // path → the version before the last change
	harness.Phase(t, "publish more than fits", func() {
		for i, rel := range bigs {
			writeFile(t, r.src, rel, randomBytes(uint64(500+i), big))
		}
		old, err := os.ReadFile(filepath.Join(r.src, "small/d0/f00.txt"))
		harness.Must(t, err)
		older["small/d0/f00.txt"] = old
		appendFile(t, filepath.Join(r.src, "small/d0/f00.txt"), []byte("a small change next to the big ones\n"))
		waitMetric(t, 60*time.Second, r.repMetrics, "jetsync_replica_errors_total",
			func(v float64) bool { return v > 0 }, `kind="no_space"`)
		waitLog(t, 10*time.Second, r.replica, "no space left on device")
		if !strings.Contains(fullLog(r.replica), "kind=no_space") {
			t.Errorf("the replica's no-space error does not say kind=no_space:\n%s", r.replica.Tail(20))
		}
	})

	harness.Phase(t, "full disk: what is there is intact", func() {
		// Watch the tree for a while as the replica keeps retrying.
		for range 5 {
			checkNoPartialFiles(t, r.src, r.dst, older)
			time.Sleep(300 * time.Millisecond)
		}
		for _, rel := range regularFiles(t, r.src) {
			if strings.HasPrefix(rel, "small/") && rel != "small/d0/f00.txt" && !exists(r.dst, rel) {
				t.Errorf("%s, replicated before the disk filled, is gone from the replica", rel)
			}
		}
		if !r.replica.Running() {
			t.Fatalf("the replica exited on a full disk:\n%s", r.replica.Tail(30))
		}
	})

	harness.Phase(t, "free space by deleting on the source", func() {
		// Delete on the source a big file the replica could not write: it
		// is no longer needed, and what remains fits.
		var missing []string
		for _, rel := range bigs {
			if !exists(r.dst, rel) {
				missing = append(missing, rel)
			}
		}
		if len(missing) == 0 {
			t.Fatalf("every big file fits on the replica's 8 MiB tmpfs: %s", df(t, r.dst))
		}
		t.Logf("not on the replica while its disk is full: %v (%s)", missing, df(t, r.dst))
		harness.Must(t, os.Remove(filepath.Join(r.src, filepath.FromSlash(missing[0]))))
		// The replica retries a failed apply with a backoff that is a few
		// seconds by now; it needs nothing from the operator.
		harness.Converge(t, freedTimeout, r.url, r.folder, r.src, r.dst)
	})

	harness.Phase(t, "fill again, then grow the filesystem", func() {
		before := readMetric(t, r.repMetrics, "jetsync_replica_errors_total", `kind="no_space"`)
		writeFile(t, r.src, "big/four.bin", randomBytes(504, big))
		writeFile(t, r.src, "big/five.bin", randomBytes(505, big))
		waitMetric(t, 60*time.Second, r.repMetrics, "jetsync_replica_errors_total",
			func(v float64) bool { return v > before }, `kind="no_space"`)
		checkNoPartialFiles(t, r.src, r.dst, older)
		if out, err := exec.Command("mount", "-o", "remount,size=64m", r.dst).CombinedOutput(); err != nil {
			t.Fatalf("grow the tmpfs: %v\n%s", err, out)
		}
		harness.Converge(t, freedTimeout, r.url, r.folder, r.src, r.dst)
		if n := harness.CountTemps(r.dst); n > 0 {
			t.Errorf("%d temp files left in %s after convergence", n, r.dst)
		}
	})
}

// mountTmpfs mounts a tmpfs of size (mount's syntax, e.g. "8m") on dir,
// creating it, and unmounts it at the end of the test. It skips the test
// if the mount is refused (no privilege in this container, say).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	harness.Must(t, os.MkdirAll(dir, 0o755))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a %s tmpfs on %s: %v: %s", size, dir, err, bytes.TrimSpace(out))
	}
	// Registered before any daemon is started, so it runs after they are
	// all stopped.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; detaching it lazily", dir, err, bytes.TrimSpace(out))
			if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
				t.Errorf("umount -l %s: %v: %s", dir, err, bytes.TrimSpace(out))
			}
		}
	})
}

// checkNoPartialFiles fails the test for any file of the replica's tree
// visible under a final name whose content is not the source's current
// one or the earlier version in older (a replica may lag, but what it shows
// must be a complete version). Temp files (wire.TempPrefix) are the
// only place a partial content may live.
func checkNoPartialFiles(t *testing.T, src, dst string, older map[string][]byte) {
	t.Helper()
	harness.Must(t, filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), wire.TempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(dst, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			t.Errorf("replica has %s, which the source does not (%v)", rel, err)
			return nil
		}
		if old, ok := older[rel]; !bytes.Equal(got, want) && !(ok && bytes.Equal(got, old)) {
			t.Errorf("replica's %s (%d bytes) is not the source's content (%d bytes): partial or corrupt", rel, len(got), len(want))
		}
		return nil
	}))
}

// df describes the space of the filesystem holding dir.
func df(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("df", "-k", dir).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("df: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
