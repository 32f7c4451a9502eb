package apply

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// slowStore answers like a broker a round trip away and records how many
// fetches overlapped.
type slowStore struct {
	*store
	delay     time.Duration
	inflight  atomic.Int32
	maxFlight atomic.Int32
}

func (s *slowStore) Chunk(ctx context.Context, h Want) ([]byte, error) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		m := s.maxFlight.Load()
		if n <= m || s.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(s.delay)
	return s.store.Chunk(ctx, h)
}

// TestApplyPrefetchesRemoteChunks: a file whose chunks come partly from a
// local file and partly from the broker is written in order and exactly,
// with the broker fetches overlapping (but no more than the window).
func TestApplyPrefetchesRemoteChunks(t *testing.T) {
	a, s, dir := newApplier(t)
	local := randomData(10*testChunk, 11)
	localRec := s.fileRecord("local", local)
	mustApply(t, a, localRec)
	idx := localIndex{}
	idx.index(localRec, localRec.Chunks)
	a.Local = idx

	// Every third chunk of the new file is one the local file holds.
	var data []byte
	for i := range 30 {
		if i%3 == 0 {
			data = append(data, local[(i/3)*testChunk:(i/3+1)*testChunk]...)
		} else {
			data = append(data, randomData(testChunk, uint64(100+i))...)
		}
	}
	rec := s.fileRecord("f", data)
	slow := &slowStore{store: s, delay: 3 * time.Millisecond}
	a.Content = slow
	res := mustApply(t, a, rec)
	assertFile(t, dir, rec, data)
	if want := int64(20 * testChunk); res.Fetched != want || res.Reused != int64(10*testChunk) {
		t.Errorf("fetched %d (want %d), reused %d (want %d)", res.Fetched, want, res.Reused, 10*testChunk)
	}
	if m := slow.maxFlight.Load(); m < 2 || m > prefetchWindow {
		t.Errorf("at most %d fetches overlapped, want 2..%d", m, prefetchWindow)
	}
	assertNoTemps(t, dir)
}
