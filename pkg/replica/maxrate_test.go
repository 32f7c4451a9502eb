package replica

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
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

// serveFile answers, on the folder's content subject of a real broker,
// content requests for f's chunks as the source's content service would,
// and at once. The first busy asks of each hash it answers "later", as a
// source at its rate limit does. It returns how often each hash was asked.
func serveFile(t *testing.T, nc *nats.Conn, f chunkedFile, busy int) func(wire.Hash) int {
	t.Helper()
	var mu sync.Mutex
	asked := map[wire.Hash]int{}
	sub, err := nc.Subscribe(wire.ContentSubject(folder), func(m *nats.Msg) {
		r, err := wire.DecodeContentRequest(m.Data)
		if err != nil {
			t.Errorf("replica sent a content request that does not decode: %v", err)
			return
		}
		reply := wire.AppendContentReplyHeader(nil, len(r.Hashes))
		for _, h := range r.Hashes {
			mu.Lock()
			n := asked[h]
			asked[h]++
			mu.Unlock()
			if n < busy {
				reply = wire.AppendContentItem(reply, wire.ContentLater, nil)
				continue
			}
			reply = wire.AppendContentItem(reply, wire.ContentOK, wire.EncodeChunk(nil, f.chunks[h], wire.NoCompression))
		}
		if err := m.Respond(reply); err != nil {
			t.Errorf("respond: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil { // subscribed before the replica asks
		t.Fatal(err)
	}
	return func(h wire.Hash) int {
		mu.Lock()
		defer mu.Unlock()
		return asked[h]
	}
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
	pub := newPublisher(t, nc)
	f := newChunkedFile(1, rateTestSize)
	serveFile(t, nc, f, 0)
	pub.record(f.record("big.bin", time.Unix(1700000000, 0)))
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), func(c *Config) { c.MaxRate = rateTestLimit })
	defer stop()
	checkRate(t, measurePull(t, r, root, "big.bin", f.data))
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

// TestReplicaAsksAgainWhenSourceBusy: a source at its rate limit answers
// "later" to what it cannot read in time, even to the only hash asked; the
// replica asks again, without counting that as a failed attempt (here one
// failed attempt fails the apply), and the file arrives whole.
func TestReplicaAsksAgainWhenSourceBusy(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	f := newChunkedFile(3, 2<<20)
	// Each hash is first asked in a range of 4, then alone: both get
	// "later", and only the third ask brings it.
	asked := serveFile(t, nc, f, 2)
	mt := time.Unix(1700000000, 0)
	pub.record(f.record("big.bin", mt))
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 20*time.Second, fileIs(root, "big.bin", f.data, 0o644, mt), "big.bin applied")
	if p := r.Progress(); p.Errors != 0 {
		t.Errorf("the replica counted %d errors (%s): a busy source is not a failure", p.Errors, p.LastError)
	}
	for _, ref := range f.refs {
		if n := asked(ref.Hash); n != 3 {
			t.Fatalf("chunk %s asked %d times, want 3 (twice answered later)", ref.Hash, n)
		}
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
