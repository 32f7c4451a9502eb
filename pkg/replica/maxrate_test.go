package replica

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/source"
)

// The --max-rate tests move 40 MiB of random bytes (no compression makes
// them fewer) at 10 MiB/s, about 4 s, and measure the average rate of the
// replica's pulls from its first fetched byte to its last: it must be
// within 20 % of the limit. Unlimited, the same pulls run many times
// faster.
const (
	rateTestSize  = 40 << 20
	rateTestLimit = 10 << 20
)

// randomBytes is n incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// startSource runs a real source of folder on root, its content cache off
// (replicas pull everything from it), until the test ends.
func startSource(t *testing.T, nc *nats.Conn, root string, maxRate int64) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.New(source.Config{Folder: folder, Root: root, DataDir: t.TempDir(), ContentCache: -1,
		MaxRate: maxRate, Logger: slog.New(slog.DiscardHandler)}, nc, js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("source run: %v", err)
		}
	})
	jstest.Eventually(t, 30*time.Second, func() bool {
		p := src.Progress()
		return p.InitialScanDone && p.PendingFiles == 0 && p.State == source.StateLive
	}, "source publishes its tree")
}

// measurePull waits until the replica has fetched want's bytes and applied
// them to rel, and returns its average pull rate in bytes per second
// from its first fetched byte (the fetch counter is sampled every 10 ms).
func measurePull(t *testing.T, r *Replica, root, rel string, want []byte) float64 {
	t.Helper()
	var start time.Time
	var startBytes int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := int64(counterValue(r.metrics.fetched)) // counted as chunks arrive
		if start.IsZero() && got > 0 {
			start, startBytes = time.Now(), got
		}
		if got >= int64(len(want)) {
			rate := float64(got-startBytes) / time.Since(start).Seconds()
			jstest.Eventually(t, 10*time.Second, func() bool {
				b, err := os.ReadFile(filepath.Join(root, rel))
				return err == nil && string(b) == string(want)
			}, "%s applied", rel)
			return rate
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetched %d of %d bytes in 30 s", got, len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkRate fails the test unless rate is within 20 % of the limit.
func checkRate(t *testing.T, rate float64) {
	t.Helper()
	t.Logf("average rate %.2f MiB/s, limit %.2f MiB/s", rate/(1<<20), float64(rateTestLimit)/(1<<20))
	if rate < 0.8*rateTestLimit || rate > 1.2*rateTestLimit {
		t.Errorf("average rate %.2f MiB/s, want within 20%% of %.2f MiB/s", rate/(1<<20), float64(rateTestLimit)/(1<<20))
	}
}

// TestMaxRatePullsFromSource: a replica with MaxRate pulls what only the
// source has at that rate.
func TestMaxRatePullsFromSource(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	src := t.TempDir()
	data := randomBytes(1, rateTestSize)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	startSource(t, nc, src, 0)
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), func(c *Config) { c.MaxRate = rateTestLimit })
	defer stop()
	checkRate(t, measurePull(t, r, root, "big.bin", data))
	// 4 s of transfer, the pulls in flight waiting in turn.
	if waited := counterValue(r.metrics.rateLimited); waited < 3 {
		t.Errorf("jetsync_replica_rate_limited_seconds_total %.2f, want the pulls' waits", waited)
	}
}

// TestMaxRatePullsFromCache: the same for content the broker's cache
// holds.
func TestMaxRatePullsFromCache(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	data := randomBytes(2, rateTestSize)
	pub.file("big.bin", data, 0o644, time.Unix(1700000000, 0))
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), func(c *Config) { c.MaxRate = rateTestLimit })
	defer stop()
	checkRate(t, measurePull(t, r, root, "big.bin", data))
	// What a progress display reads: content as it arrived, and the record
	// done with, none left in flight.
	jstest.Eventually(t, 10*time.Second, func() bool {
		p := r.Progress()
		return p.Received == rateTestSize && p.Finished == 1 && p.InFlight == 0
	}, "progress: %+v", r.Progress())
}

// TestSourceMaxRateSlowsReplica: a source with MaxRate answers a replica
// without a limit of its own at that rate; the replies it cannot send in
// time ("later") are asked again, and the file arrives whole.
func TestSourceMaxRateSlowsReplica(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	src := t.TempDir()
	data := randomBytes(3, rateTestSize)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	startSource(t, nc, src, rateTestLimit)
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	checkRate(t, measurePull(t, r, root, "big.bin", data))
	if p := r.Progress(); p.Errors != 0 {
		t.Errorf("the replica counted %d errors (%s): a busy source is not a failure", p.Errors, p.LastError)
	}
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
