package netfaults

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// Sizes of the burst of TestWatcherOverflow.
const (
	burstFiles   = 100_000
	burstDirs    = 100
	burstWriters = 8
)

// TestWatcherOverflow creates 100,000 small files in 100 new directories
// from several goroutines, as fast as the machine allows, under a running
// source. The source is frozen (SIGSTOP) while the middle third of the
// files is written, as a source starved of CPU or stuck on a slow disk
// would be: the kernel's notification queue (inotify's max_queued_events
// is 16,384 by default, and each file makes several events) overflows, or
// at least the watcher falls far behind. The source must rescan and the
// replica converge, jetsync verify passing. Whether an overflow was seen
// is logged, not required.
func TestWatcherOverflow(t *testing.T) {
	t.Parallel()
	defer keepLogs(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "burst"
	for i := range 10 {
		harness.WriteFile(t, filepath.Join(src, "before", fmt.Sprintf("f%d.txt", i)), fmt.Sprintf("before the burst %d\n", i), 0o644)
	}
	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	metrics := harness.FreeAddr(t)
	harness.StartBroker(t, filepath.Join(root, "broker"), addr)
	source := harness.StartSource(t, "source", url, folder, src, filepath.Join(root, "source-data"), "--metrics", metrics)
	replica := harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1")
	stacksOnFailure(t, source, replica)
	harness.Phase(t, "initial sync", func() {
		harness.Converge(t, convergeTimeout, url, folder, src, dst)
	})
	scansBefore := strings.Count(source.LastRunLog(), "full scan done")

	start := time.Now()
	var created, frozen time.Duration
	harness.Phase(t, "burst", func() {
		frozen = burst(t, filepath.Join(src, "burst"), source)
		created = time.Since(start)
	})
	want := harness.CountFiles(src)
	t.Logf("created %d files in %d directories with %d writers in %.1fs (%.0f files/s); the source was frozen for %.1fs of it",
		burstFiles, burstDirs, burstWriters, created.Seconds(), burstFiles/created.Seconds(), frozen.Seconds())

	var applied time.Duration
	harness.Phase(t, "replica catches up", func() {
		lastLog := time.Now()
		harness.Eventually(t, 4*time.Minute, func() (bool, string) {
			n := harness.CountFiles(dst)
			if n == want {
				return true, ""
			}
			if time.Since(lastLog) > 15*time.Second {
				lastLog = time.Now()
				t.Logf("%.0fs after the burst began: %d of %d files on the replica", time.Since(start).Seconds(), n, want)
			}
			time.Sleep(1750 * time.Millisecond) // a walk of 100,000 files takes ~0.25 s under -race
			return false, fmt.Sprintf("%d of %d files on the replica", n, want)
		})
		applied = time.Since(start)
	})
	harness.Phase(t, "converge", func() {
		convergeLarge(t, 2*time.Minute, url, folder, src, dst)
	})
	total := time.Since(start)

	log := source.LastRunLog()
	overflows := strings.Count(log, "kernel event queue overflowed")
	lost := strings.Count(log, "watcher lost events")
	scans := strings.Count(log, "full scan done") - scansBefore
	t.Logf("burst of %d files: created in %.1fs, all on the replica %.1fs after the burst began, trees equal and verified after %.1fs",
		burstFiles, created.Seconds(), applied.Seconds(), total.Seconds())
	t.Logf("source: %d overflow warnings, %d other lost-event warnings, %d full scans after the initial one; metrics: %s",
		overflows, lost, scans, scrape(metrics, "jetsync_source_scan_duration_seconds_count", "jetsync_source_published_records_total"))
	if overflows+lost == 0 {
		t.Logf("no overflow was reported: the watcher kept up with the burst on this machine (rescans: %d)", scans)
	}
	if total > 90*time.Second {
		t.Logf("note: the burst took %.0fs to converge, over the 90 s budget", total.Seconds())
	}
}

// burst creates burstFiles small files spread over burstDirs new
// directories under dir, from burstWriters goroutines, and freezes the
// source (SIGSTOP … SIGCONT) while the middle third is written. It
// returns how long the source was frozen.
func burst(t *testing.T, dir string, source *harness.Proc) time.Duration {
	t.Helper()
	for d := range burstDirs {
		harness.Must(t, os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%03d", d)), 0o755))
	}
	var written atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, burstWriters)
	for w := range burstWriters {
		wg.Go(func() {
			for i := w; i < burstFiles; i += burstWriters {
				p := filepath.Join(dir, fmt.Sprintf("d%03d", i%burstDirs), fmt.Sprintf("f%06d.txt", i))
				if err := os.WriteFile(p, fmt.Appendf(nil, "burst file %d\n", i), 0o644); err != nil {
					errs <- err
					return
				}
				written.Add(1)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// Freeze the source from a third of the files to two thirds.
	var frozenAt time.Time
	var frozen time.Duration
	thaw := func() {
		if !frozenAt.IsZero() {
			harness.Must(t, source.Signal(syscall.SIGCONT))
			frozen = time.Since(frozenAt)
			frozenAt = time.Time{}
		}
	}
	defer thaw()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for stopped, running := false, true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
		}
		n := written.Load()
		if !stopped && n >= burstFiles/3 {
			harness.Must(t, source.Signal(syscall.SIGSTOP))
			stopped, frozenAt = true, time.Now()
		}
		if n >= 2*burstFiles/3 {
			thaw()
		}
	}
	thaw()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return frozen
}

// convergeLarge is harness.Converge for a tree of 100,000 files: the same
// independent comparison (treegen.CompareMeta: paths, types, sizes,
// modes, mtimes, link targets; then every file's bytes) and jetsync
// verify, of the replica and of the source tree. Contents are compared
// only once metadata agrees, by reading both copies into reused buffers:
// treegen.Compare hashes both sides with a fresh 256 KiB buffer per file,
// which takes 20-30 s for this tree under -race.
func convergeLarge(t *testing.T, timeout time.Duration, url, folder, src, dst string) {
	t.Helper()
	harness.Eventually(t, timeout, func() (bool, string) {
		diffs, err := treegen.CompareMeta(src, dst)
		if err != nil {
			return false, err.Error()
		}
		if len(diffs) == 0 {
			diffs, err = contentDiffs(src, dst)
			if err != nil {
				return false, err.Error()
			}
		}
		if len(diffs) > 0 {
			return false, fmt.Sprintf("%s vs %s: %d differences:\n%s", src, dst, len(diffs), strings.Join(diffs, "\n"))
		}
		for _, dir := range []string{dst, src} {
			if res := harness.Verify(t, url, folder, dir); res.Code != 0 {
				return false, fmt.Sprintf("trees equal but jetsync verify %s: %s", dir, res)
			}
		}
		return true, ""
	})
}

// contentDiffs compares the bytes of every regular file of a with the
// same path in b (CompareMeta has checked that the sets of paths agree).
func contentDiffs(a, b string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), wire.TempPrefix) {
			rel, err := filepath.Rel(a, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		diffs []string
		wg    sync.WaitGroup
	)
	work := make(chan string)
	for range 4 {
		wg.Go(func() {
			ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
			for rel := range work {
				if err := sameFile(filepath.Join(a, rel), filepath.Join(b, rel), ba, bb); err != nil {
					mu.Lock()
					diffs = append(diffs, fmt.Sprintf("%q: %v", filepath.ToSlash(rel), err))
					mu.Unlock()
				}
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	return diffs, nil
}

var errContent = errors.New("content differs")

// sameFile returns nil if the files at a and b hold the same bytes.
func sameFile(a, b string, ba, bb []byte) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return errContent
		}
		endA := errors.Is(ea, io.EOF) || errors.Is(ea, io.ErrUnexpectedEOF)
		endB := errors.Is(eb, io.EOF) || errors.Is(eb, io.ErrUnexpectedEOF)
		switch {
		case ea != nil && !endA:
			return ea
		case eb != nil && !endB:
			return eb
		case endA != endB:
			return errContent
		case endA:
			return nil
		}
	}
}

// scrape returns the named metrics from a daemon's /metrics, one line
// each, or the error.
func scrape(addr string, names ...string) string {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, n := range names {
			if strings.HasPrefix(line, n+"{") || strings.HasPrefix(line, n+" ") {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "; ")
}
