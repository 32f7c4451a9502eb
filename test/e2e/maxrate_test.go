package e2e

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestMaxRate: `--max-rate 10MiB` on the replica (its pulls) or on the
// source (its replies) moves 40 MiB of random bytes (nothing to compress)
// at 10 MiB/s, within 20 %, measured on the replica's metrics from the
// first byte fetched to the last; then the trees are equal.
func TestMaxRate(t *testing.T) {
	t.Parallel()
	limit := []string{"--max-rate", "10MiB"}
	t.Run("replica", func(t *testing.T) { testMaxRate(t, nil, limit, "jetsync_replica_rate_limited_seconds_total") })
	t.Run("source", func(t *testing.T) { testMaxRate(t, limit, nil, "") })
}

func testMaxRate(t *testing.T, sourceArgs, replicaArgs []string, waitedMetric string) {
	const size, limit = 40 << 20, 10 << 20
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, os.MkdirAll(src, 0o755))
	data := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{42}).Read(data)
	harness.Must(t, os.WriteFile(filepath.Join(src, "big.bin"), data, 0o644))
	metrics := harness.FreeAddr(t)
	tr := harness.StartTrioWith(t, "rate", src, sourceArgs, append([]string{"--metrics", metrics}, replicaArgs...))

	var start time.Time
	var first float64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := fetched(metrics)
		if err == nil && start.IsZero() && got > 0 {
			start, first = time.Now(), got
		}
		if got >= size {
			rate := (got - first) / time.Since(start).Seconds()
			t.Logf("pulled %.0f bytes at %.2f MiB/s (limit 10 MiB/s)", got, rate/(1<<20))
			if rate < 0.8*limit || rate > 1.2*limit {
				t.Errorf("average rate %.2f MiB/s, want within 20%% of 10 MiB/s", rate/(1<<20))
			}
			break
		}
		if time.Now().After(deadline) {
			harness.FailWithLogs(t, "the replica did not fetch the file in 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	harness.Converge(t, time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	if waitedMetric == "" {
		return
	}
	if waited := harness.ReadMetric(t, metrics, waitedMetric); waited <= 0 {
		t.Errorf("%s %.2f, want the pulls' waits", waitedMetric, waited)
	}
}

// fetched is the replica's jetsync_replica_fetched_bytes_total.
func fetched(addr string) (float64, error) {
	series, err := harness.Scrape(addr)
	return harness.Metric(series, "jetsync_replica_fetched_bytes_total"), err
}
