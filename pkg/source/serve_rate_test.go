package source

import (
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

// TestContentMaxRate: a source with MaxRate answers replicas asking in
// parallel at that rate in all (10 MiB/s, within 20 %, measured over 40
// MiB of random bytes), every reply comes well within a requester's
// timeout (what cannot be sent in time is answered "later" and asked
// again), and the time spent waiting shows in the metrics.
func TestContentMaxRate(t *testing.T) {
	const size, limit = 40 << 20, 10 << 20
	f := newFixture(t)
	tree{"big.bin": file(seededBytes(11, size))}.create(t, f.root)
	r := f.start(func(c *Config, _ *Source) { c.MaxRate = limit })
	r.waitIdle(t)
	rec := f.record("big.bin")
	c := newContentClient(f)

	// Sixteen requesters, as a replica's pulls in flight, each asking for
	// 4 chunks at a time.
	work := make(chan []wire.Hash, len(rec.Chunks))
	for i := 0; i < len(rec.Chunks); i += 4 {
		work <- hashes(rec.Chunks[i:min(i+4, len(rec.Chunks))])
	}
	close(work)
	var mu sync.Mutex
	var moved int64 // payload bytes
	var served int
	var slowest time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for hs := range work {
				for len(hs) > 0 {
					asked := time.Now()
					items, _, err := c.ask(wire.ContentChunks, "big.bin", 1<<20, hs...)
					took := time.Since(asked)
					if err != nil {
						t.Errorf("ask: %v", err)
						return
					}
					var later []wire.Hash
					n, got := 0, 0
					for i, it := range items {
						switch it.Status {
						case wire.ContentOK: // not compressed: as many bytes as were read
							n += len(it.Payload)
							got++
						case wire.ContentLater:
							later = append(later, hs[i])
						default:
							t.Errorf("chunk %s: status %d", hs[i], it.Status)
							return
						}
					}
					mu.Lock()
					moved += int64(n)
					served += got
					slowest = max(slowest, took)
					mu.Unlock()
					if len(later) == len(hs) {
						time.Sleep(100 * time.Millisecond)
					}
					hs = later
				}
			}
		})
	}
	wg.Wait()
	rate := float64(moved) / time.Since(start).Seconds()
	t.Logf("served %d bytes at %.2f MiB/s (limit %.2f MiB/s); slowest reply %s, %d hashes answered later",
		moved, rate/(1<<20), float64(limit)/(1<<20), slowest.Round(time.Millisecond), c.count("later"))
	if served != len(rec.Chunks) || moved < size {
		t.Fatalf("served %d chunks, %d bytes; want %d, %d", served, moved, len(rec.Chunks), size)
	}
	if rate < 0.8*limit || rate > 1.2*limit {
		t.Errorf("average rate %.2f MiB/s, want within 20%% of %.2f MiB/s", rate/(1<<20), float64(limit)/(1<<20))
	}
	// A request waits for the limit at most replyWaitMax, behind at most
	// one other per endpoint here: far from a requester's 10 s.
	if slowest > 4*time.Second {
		t.Errorf("slowest reply took %s", slowest)
	}
	if waited := r.counter(t, "jetsync_source_rate_limited_seconds_total"); waited < 2 {
		t.Errorf("jetsync_source_rate_limited_seconds_total %.2f, want the replies' waits", waited)
	}
}

// TestContentMaxRateAnswersLater: a reply waits for the limit only so
// long (replyWaitMax): what would wait longer is answered "later" at
// once, not held until the requester gave up on the whole reply.
func TestContentMaxRateAnswersLater(t *testing.T) {
	// The file fits one reply; a burst (256 KiB) and 1 s of the limit are
	// well below it.
	const limit = 64 << 10
	f := newFixture(t)
	tree{"mid.bin": file(seededBytes(12, 768<<10))}.create(t, f.root)
	r := f.start(func(c *Config, _ *Source) { c.MaxRate = limit })
	r.waitIdle(t)
	hs := hashes(f.record("mid.bin").Chunks)
	c := newContentClient(f)
	asked := time.Now()
	items, _, err := c.ask(wire.ContentChunks, "mid.bin", 1<<20, hs...)
	took := time.Since(asked)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for ok < len(items) && items[ok].Status == wire.ContentOK {
		ok++
	}
	for i, it := range items[ok:] {
		if it.Status != wire.ContentLater {
			t.Fatalf("item %d after %d served: status %d, want later", ok+i, ok, it.Status)
		}
	}
	t.Logf("%d of %d chunks served in %s, the rest later", ok, len(items), took.Round(time.Millisecond))
	if ok == 0 || ok == len(items) {
		t.Fatalf("%d of %d chunks served: want the burst and about a second's worth, then later", ok, len(items))
	}
	if took > replyWaitMax+time.Second {
		t.Fatalf("the reply took %s: waits for the limit are bounded by %s", took, replyWaitMax)
	}
}
