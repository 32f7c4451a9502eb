package faults

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// maxStaleness is the source's documented default bound on how far the
// published version of a file that never stops changing lags behind it
// (source --max-staleness); the replica's copy must be within it.
const maxStaleness = 5 * time.Second

// TestAppendedFileArrivesAsPrefixes appends a line to a log every 2 ms
// for 20 s, never pausing, while a reader looks at the replica's copy
// every 100 ms: it must always be a prefix of what was appended, and
// never more than maxStaleness behind the source's file (the copy must
// hold at least what the file held maxStaleness earlier).
func TestAppendedFileArrivesAsPrefixes(t *testing.T) {
	t.Parallel()
	const (
		writeFor    = 20 * time.Second
		appendEvery = 2 * time.Millisecond
		checkEvery  = 100 * time.Millisecond
	)
	r := newRig(t, "appended")
	ownTree(t, r.src, 505)
	logPath := filepath.Join(r.src, "logs", "app.log")
	writeFile(t, r.src, "logs/app.log", nil)
	r.startAll()
	r.converge()

	var full bytes.Buffer
	for i := range int(writeFor/appendEvery) + 1000 {
		fmt.Fprintf(&full, "%07d an appended line of a log that never stops %s\n", i, [...]string{"", "growing", "to be read"}[i%3])
	}
	hist := &history{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the appender: one write per line, never a pause
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(appendEvery)
		defer tick.Stop()
		end := 0
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			next := bytes.IndexByte(full.Bytes()[end:], '\n') + end + 1
			if _, err := f.Write(full.Bytes()[end:next]); err != nil {
				t.Error(err)
				return
			}
			end = next
			hist.add(int64(end))
		}
	})

	var lags []time.Duration
	dst := filepath.Join(r.dst, "logs", "app.log")
	check := time.NewTicker(checkEvery)
	for deadline := time.Now().Add(writeFor); time.Now().Before(deadline); <-check.C {
		at := time.Now()
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Errorf("read the replica's copy: %v", err)
			continue
		}
		if !bytes.HasPrefix(full.Bytes(), b) {
			t.Errorf("the replica's copy (%d bytes) is not a prefix of the log; first difference at byte %d", len(b), firstDiff(b, full.Bytes()))
			continue
		}
		lag := hist.lagOf(int64(len(b)), at)
		lags = append(lags, lag)
		if lag > maxStaleness {
			t.Errorf("at %s the replica's copy (%d bytes) was %s behind the source's file", at.Format(time.TimeOnly+".000"), len(b), lag.Round(time.Millisecond))
		}
	}
	check.Stop()
	close(stop)
	wg.Wait()
	t.Logf("%d bytes appended in %d writes; replica lag over %d checks: %s; source published %v prefixes",
		hist.last(), hist.len(), len(lags), summarize(lags),
		readMetric(t, r.srcMetrics, "jetsync_source_changing_reads_total", `how="prefix"`))
	r.converge()
}

// TestReplacedFileArrivesWhole replaces a 128 KiB file every 5 ms for
// 15 s the way editors and atomic writers do (a temporary file in the
// same directory, renamed over it), while a reader looks at the
// replica's copy every 20 ms: every version it sees must be one the
// writer produced, whole, and never more than maxStaleness older than
// the source's.
func TestReplacedFileArrivesWhole(t *testing.T) {
	t.Parallel()
	const (
		writeFor     = 15 * time.Second
		replaceEvery = 5 * time.Millisecond
		checkEvery   = 20 * time.Millisecond
		size         = 128 << 10
	)
	r := newRig(t, "replaced")
	ownTree(t, r.src, 606)
	target := filepath.Join(r.src, "data", "state.bin")
	writeFile(t, r.src, "data/state.bin", version(0, size))
	r.startAll()
	r.converge()

	hist := &history{} // the version renamed in, by time
	hist.add(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tmp := target + ".tmp"
		tick := time.NewTicker(replaceEvery)
		defer tick.Stop()
		for v := int64(1); ; v++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := os.WriteFile(tmp, version(v, size), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, target); err != nil {
				t.Error(err)
				return
			}
			hist.add(v)
		}
	})

	var lags []time.Duration
	seen := map[int64]bool{}
	dst := filepath.Join(r.dst, "data", "state.bin")
	check := time.NewTicker(checkEvery)
	for deadline := time.Now().Add(writeFor); time.Now().Before(deadline); <-check.C {
		at := time.Now()
		b, err := os.ReadFile(dst)
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the replica's copy disappeared")
			continue
		}
		harness.Must(t, err)
		v, ok := versionOf(b, size)
		if !ok {
			t.Errorf("the replica's copy (%d bytes) is none of the versions written: torn", len(b))
			continue
		}
		seen[v] = true
		lag := hist.lagOf(v+1, at) // how long since a newer version replaced it
		lags = append(lags, lag)
		if lag > maxStaleness {
			t.Errorf("at %s the replica had version %d, replaced %s before", at.Format(time.TimeOnly+".000"), v, lag.Round(time.Millisecond))
		}
	}
	check.Stop()
	close(stop)
	wg.Wait()
	t.Logf("%d versions written; the replica showed %d of them; its lag over %d checks: %s; source read %v replaced versions",
		hist.last(), len(seen), len(lags), summarize(lags),
		readMetric(t, r.srcMetrics, "jetsync_source_changing_reads_total", `how="replaced"`))
	if len(seen) < 10 {
		t.Errorf("the replica showed only %d versions of a file replaced %d times", len(seen), hist.last())
	}
	r.converge()
}

// version is the content of version v of a replaced file: its number,
// then bytes that depend on it.
func version(v int64, size int) []byte {
	b := randomBytes(uint64(v)+1_000_000, size)
	copy(b, fmt.Sprintf("version %012d\n", v))
	return b
}

// versionOf returns which version b is, if it is one whole.
func versionOf(b []byte, size int) (int64, bool) {
	if len(b) != size || !bytes.HasPrefix(b, []byte("version ")) {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b[8:20]), 10, 64)
	return v, err == nil && bytes.Equal(b, version(v, size))
}

// history is a writer's progress: a value that only grows (a length, a
// version number) and when it got there.
type history struct {
	mu  sync.Mutex
	at  []time.Time
	val []int64
}

func (h *history) add(v int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = append(h.at, time.Now())
	h.val = append(h.val, v)
}

// lagOf is how long before now the value first went past have: how far
// behind a reader that has have is (0 if the writer has not gone past
// it).
func (h *history) lagOf(have int64, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := sort.Search(len(h.val), func(i int) bool { return h.val[i] > have })
	if i == len(h.val) {
		return 0
	}
	return max(now.Sub(h.at[i]), 0)
}

func (h *history) last() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.val) == 0 {
		return 0
	}
	return h.val[len(h.val)-1]
}

func (h *history) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.val)
}

// summarize renders the median, 95th percentile and maximum of ds.
func summarize(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(int(p*float64(len(s))), len(s)-1)].Round(time.Millisecond) }
	return fmt.Sprintf("p50 %s, p95 %s, max %s", q(0.5), q(0.95), q(1))
}

// TestRewrittenFileArrivesWhole rewrites a 256 KiB file in place (one
// pwrite of a whole new version over the old one) every 5 ms for 15 s,
// never pausing, while a reader looks at the replica's copy every 20 ms:
// every version it sees must be one the writer produced, whole, and never
// more than maxStaleness older than the source's. Such a file never holds
// still long enough for a settled read: on most file systems the source
// waits MaxStaleness/2, then publishes reads a second read confirms; with
// JETSYNC_TEST_REFLINK_DIR naming a directory on XFS or btrfs, the tree is
// there and the source reads clones.
func TestRewrittenFileArrivesWhole(t *testing.T) {
	t.Parallel()
	const (
		writeFor     = 15 * time.Second
		rewriteEvery = 5 * time.Millisecond
		checkEvery   = 20 * time.Millisecond
		size         = 256 << 10
	)
	r := newRig(t, "rewritten")
	if dir := os.Getenv("JETSYNC_TEST_REFLINK_DIR"); dir != "" {
		src, err := os.MkdirTemp(dir, "rewritten-")
		harness.Must(t, err)
		t.Cleanup(func() { os.RemoveAll(src) })
		r.src = src
	}
	ownTree(t, r.src, 707)
	target := filepath.Join(r.src, "data", "table.db")
	writeFile(t, r.src, "data/table.db", version(0, size))
	r.startAll()
	r.converge()

	hist := &history{}
	hist.add(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(rewriteEvery)
		defer tick.Stop()
		for v := int64(1); ; v++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := f.WriteAt(version(v, size), 0); err != nil {
				t.Error(err)
				return
			}
			hist.add(v)
		}
	})

	var lags []time.Duration
	seen := map[int64]bool{}
	dst := filepath.Join(r.dst, "data", "table.db")
	check := time.NewTicker(checkEvery)
	for deadline := time.Now().Add(writeFor); time.Now().Before(deadline); <-check.C {
		at := time.Now()
		b, err := os.ReadFile(dst)
		harness.Must(t, err)
		v, ok := versionOf(b, size)
		if !ok {
			t.Errorf("the replica's copy (%d bytes) is none of the versions written: torn", len(b))
			continue
		}
		seen[v] = true
		lag := hist.lagOf(v+1, at)
		lags = append(lags, lag)
		if lag > maxStaleness {
			t.Errorf("at %s the replica had version %d, overwritten %s before", at.Format(time.TimeOnly+".000"), v, lag.Round(time.Millisecond))
		}
	}
	check.Stop()
	close(stop)
	wg.Wait()
	series := harness.ScrapeEventually(t, r.srcMetrics)
	t.Logf("%d versions written; the replica showed %d of them; its lag over %d checks: %s; source read %v clones, %v verified",
		hist.last(), len(seen), len(lags), summarize(lags),
		harness.Metric(series, "jetsync_source_changing_reads_total", `how="clone"`),
		harness.Metric(series, "jetsync_source_changing_reads_total", `how="verified"`))
	if len(seen) < 10 {
		t.Errorf("the replica showed only %d versions of a file rewritten %d times", len(seen), hist.last())
	}
	r.converge()
}
