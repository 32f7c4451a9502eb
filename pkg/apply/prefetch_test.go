package apply

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
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
	idx := newLocalIndex()
	idx.index(localRec, localRec.Chunks, 0)
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

// batchStore is a store that brings several chunks in one call, and may
// leave some out, as a content source whose reply had no room or whose
// bytes did not match.
type batchStore struct {
	*store
	calls, batched atomic.Int64
	drop           func(i int) bool // leave out the i-th chunk of a call
}

func (b *batchStore) Chunks(ctx context.Context, rec *wire.Record, refs []wire.ChunkRef) [][]byte {
	b.calls.Add(1)
	out := make([][]byte, len(refs))
	for i, r := range refs {
		if b.drop != nil && b.drop(i) {
			continue
		}
		data, err := b.store.Chunk(ctx, Want{Rec: rec, Ref: r})
		if err == nil {
			out[i] = data
			b.batched.Add(1)
		}
	}
	return out
}

// TestApplyBatchesBigFiles: a file of many chunks from a content source
// that can batch is obtained in ranges, one call per range for the chunks
// not found locally; what a call leaves out is asked for alone; the file
// is exact either way. A small file is obtained chunk by chunk.
func TestApplyBatchesBigFiles(t *testing.T) {
	for _, dropOdd := range []bool{false, true} {
		a, s, dir := newApplier(t)
		data := randomData(40*testChunk, 21)
		rec := s.fileRecord("big", data)
		b := &batchStore{store: s}
		if dropOdd {
			b.drop = func(i int) bool { return i%2 == 1 }
		}
		a.Content = b
		mustApply(t, a, rec)
		assertFile(t, dir, rec, data)
		calls, batched := b.calls.Load(), b.batched.Load()
		if calls != int64(40/batchLen) {
			t.Errorf("drop odd %v: %d batch calls for 40 chunks, want %d", dropOdd, calls, 40/batchLen)
		}
		if want := int64(40); dropOdd {
			if batched != want/2 {
				t.Errorf("%d chunks batched, want %d (the rest asked alone)", batched, want/2)
			}
		} else if batched != want {
			t.Errorf("%d chunks batched, want %d", batched, want)
		}
		assertNoTemps(t, dir)

		small := randomData(4*testChunk, 22)
		srec := s.fileRecord("small", small)
		b.calls.Store(0)
		mustApply(t, a, srec)
		assertFile(t, dir, srec, small)
		if n := b.calls.Load(); n != 0 {
			t.Errorf("a file of 4 chunks was batched (%d calls)", n)
		}
	}
}
