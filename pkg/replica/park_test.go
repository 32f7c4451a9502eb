package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// useParkRetry makes parked records come up for a retry after d, doubling.
func useParkRetry(t *testing.T, d time.Duration) {
	old := parkRetryFirst
	parkRetryFirst = d
	t.Cleanup(func() { parkRetryFirst = old })
}

// Records whose content nobody has (the source answers "gone" while they
// are still their path's latest state) are parked: more of them than
// there are workers hold neither the position nor the other paths. They
// show in the status and the metrics, survive a restart, are dropped when
// a newer state of their path is applied, and applied when their content
// comes back.
func TestUnappliableRecordsAreParked(t *testing.T) {
	useParkRetry(t, 300*time.Millisecond)
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	const n = 12 // more than the 8 workers
	files := make([]chunkedFile, n)
	var healed atomic.Int32 // files[0:healed] are served again
	healed.Store(-1)
	serveStandIn(t, nc, func(r wire.ContentRequest, _ int) []byte {
		for i, f := range files {
			if data, ok := f.chunks[r.Hashes[0]]; ok && int32(i) < healed.Load() {
				return okReply(data)
			}
		}
		return statusReply(wire.ContentGone)
	})
	mt := time.Unix(1700000000, 0)
	for i := range files {
		files[i] = newChunkedFile(uint64(100+i), 100<<10)
		pub.record(files[i].record(fmt.Sprintf("stuck/%02d", i), mt))
	}
	pub.inlineFile("flows", []byte("after the stuck ones"), 0o644, mt)
	root, data := t.TempDir(), t.TempDir()
	reg := prometheus.NewRegistry()
	r, stop, _ := startReplica(t, nc, root, data, withRegistry(reg))

	jstest.Eventually(t, 20*time.Second, fileIs(root, "flows", []byte("after the stuck ones"), 0o644, mt),
		"a record behind %d unappliable ones is applied: %+v", n, r.Progress())
	jstest.Eventually(t, 20*time.Second, func() bool { return r.Progress().Parked == n },
		"all parked: %+v", r.Progress())
	p := r.Progress()
	if p.State != "stuck" || p.Pending < n || p.Lag <= 0 || len(p.Stuck) != min(n, maxStuckShown) {
		t.Fatalf("progress with %d parked records: %+v", n, p)
	}
	if s := p.Stuck[0]; s.Path != "stuck/00" || !strings.Contains(s.Reason, "gone") {
		t.Fatalf("first stuck path: %+v", s)
	}
	if got := gauge(t, reg, "jetsync_replica_parked"); got != n {
		t.Fatalf("parked gauge %v, want %d", got, n)
	}
	if got := counter(t, reg, "jetsync_replica_errors_total", "kind", "content_gone"); got < n {
		t.Fatalf("content_gone errors %v, want at least %d", got, n)
	}
	// The position passed them.
	last := pub.record(wire.Record{Path: "dir", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Cursor >= last }, "position passes parked records")
	stop()

	// Parked records are kept across a restart, and dropped when a newer
	// state of their path is applied.
	reg = prometheus.NewRegistry()
	r, stop, _ = startReplica(t, nc, root, data, withRegistry(reg))
	defer stop()
	jstest.Eventually(t, 20*time.Second, func() bool { return r.Progress().Parked == n },
		"parked records after a restart: %+v", r.Progress())
	pub.inlineFile("stuck/03", []byte("replaced"), 0o644, mt)
	jstest.Eventually(t, 20*time.Second, func() bool {
		return fileIs(root, "stuck/03", []byte("replaced"), 0o644, mt)() && r.Progress().Parked == n-1
	}, "a newer state replaces a parked record: %+v", r.Progress())

	// Content that comes back is applied on a retry.
	healed.Store(3)
	jstest.Eventually(t, 30*time.Second, func() bool {
		return fileIs(root, "stuck/00", files[0].data, 0o644, mt)() && fileIs(root, "stuck/02", files[2].data, 0o644, mt)()
	}, "healed records applied")
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Parked == n-4 }, "parked count after the retries")
	if _, err := os.Lstat(filepath.Join(root, "stuck", "05")); err == nil {
		t.Fatal("a parked record's path was written")
	}
	if got := gauge(t, reg, "jetsync_replica_parked"); got != n-4 {
		t.Fatalf("parked gauge %v, want %d", got, n-4)
	}
}

func withRegistry(reg *prometheus.Registry) func(*Config) {
	return func(c *Config) { c.Registry = reg }
}

// gauge reads an unlabelled gauge or counter (or a histogram's count) of a
// replica's registry.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			if c := mf.GetMetric()[0].GetCounter(); c != nil {
				return c.GetValue()
			}
			if h := mf.GetMetric()[0].GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
