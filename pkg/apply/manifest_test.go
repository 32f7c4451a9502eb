package apply

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// manifestOf returns the manifest of chunks, stored in s, cut into a blob
// at least every per refs (as wire.EncodeManifest cuts each piece), so
// that short lists too span several blobs.
func manifestOf(s *store, chunks []wire.ChunkRef, per int) []wire.ChunkRef {
	var m []wire.ChunkRef
	for i := 0; i < len(chunks); i += per {
		for _, b := range wire.EncodeManifest(chunks[i:min(i+per, len(chunks))]) {
			m = append(m, s.put(b))
		}
	}
	return m
}

// chunkedRecord stores data in chunks of size bytes and returns the
// record of a file holding it, with an inline list.
func chunkedRecord(s *store, path string, data []byte, size int) *wire.Record {
	rec := &wire.Record{Path: path, Type: wire.File, Mode: 0o640, MTime: testTime.UnixNano(),
		Size: int64(len(data)), Hash: wire.Sum(data)}
	for off := 0; off < len(data); off += size {
		rec.Chunks = append(rec.Chunks, s.put(data[off:min(off+size, len(data))]))
	}
	return rec
}

// countingStore counts what is asked of it.
type countingStore struct {
	*store
	blobs, chunks atomic.Int64
	hook          func(n int64) // called with the number of chunks asked so far
}

// Chunk counts the blob or chunk asked for and gets it from the store.
func (c *countingStore) Chunk(ctx context.Context, w Want) ([]byte, error) {
	if w.Manifest {
		c.blobs.Add(1)
	} else if n := c.chunks.Add(1); c.hook != nil {
		c.hook(n)
	}
	return c.store.Chunk(ctx, w)
}

// heapGrowth runs fn and returns by how much the live heap, measured
// after a collection, grows during it at most, sampled by fn calling the
// returned function.
func heapGrowth(fn func(sample func())) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var mu sync.Mutex
	var peak uint64
	fn(func() {
		mu.Lock()
		defer mu.Unlock()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	})
	if peak < base {
		return 0
	}
	return peak - base
}

// bombBlob is a manifest blob of n refs of one byte each: a valid tag and
// valid entries, only too many of them.
func bombBlob(n int) []byte {
	b := []byte{'M'}
	for i := range n {
		h := wire.Sum(binary.LittleEndian.AppendUint32(nil, uint32(i)))
		b = append(append(b, h[:]...), 1)
	}
	return b
}

// The manifest bomb: a record of a few KB referencing a 1 MiB
// blob (31,000 refs) a thousand times once took a replica to out of
// memory. It and blobs that stay within the record's bounds but not the
// decoder's, or that list chunks that never come, are rejected for a few
// MB at most, as a bad record when they are one.
func TestManifestBombIsRejectedCheaply(t *testing.T) {
	tests := []struct {
		name      string
		blob      []byte
		size      int64
		want      error
		maxFetch  int64
		maxAllocs uint64
	}{
		{"1 MiB blob 1,000 times", bombBlob(31000), 31000 * 1000, ErrBadRecord, 0, 1 << 20},
		{"one ref too many, 1,000 times", bombBlob(wire.ManifestBlobChunks + 1), wire.MaxFileSize, ErrBadRecord, 1, 8 << 20},
		{"full blobs of missing chunks, 1,000 times", bombBlob(wire.ManifestBlobChunks), wire.MaxFileSize, ErrChunkMissing, 2, 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s, dir := newApplier(t)
			c := &countingStore{store: s}
			a.Content = c
			ref := s.put(tt.blob)
			rec := &wire.Record{Path: "bomb", Type: wire.File, Size: tt.size, Hash: wire.Sum([]byte("x")),
				Manifest: slices.Repeat([]wire.ChunkRef{ref}, 1000)}
			list, _ := json.Marshal(rec.Manifest)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := a.Apply(context.Background(), rec)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("manifest list of %d KB: %v; %d KB allocated, %d blobs fetched", len(list)>>10, err, alloc>>10, c.blobs.Load())
			if !errors.Is(err, tt.want) || !errors.Is(err, wire.ErrMalformed) && tt.want == ErrBadRecord {
				t.Errorf("Apply = %v, want %v", err, tt.want)
			}
			if alloc > tt.maxAllocs || c.blobs.Load() > tt.maxFetch {
				t.Errorf("%d bytes allocated, %d blobs fetched; want at most %d and %d", alloc, c.blobs.Load(), tt.maxAllocs, tt.maxFetch)
			}
			assertNoTemps(t, dir)
		})
	}
}

// A file whose list spans several blobs is written exactly, its chunks
// placed as they are, with the blobs fetched once each, through a
// content source that batches too; a copy of it is then read from it.
func TestManifestFileIsPlacedAndReused(t *testing.T) {
	a, s, dir := newApplier(t)
	data := randomData(300*wire.MinChunkLen+777, 31)
	rec := chunkedRecord(s, "d/big", data, wire.MinChunkLen)
	chunks := rec.Chunks
	rec.Chunks, rec.Manifest = nil, manifestOf(s, chunks, 64)
	if len(rec.Manifest) < 4 {
		t.Fatalf("%d blobs", len(rec.Manifest))
	}
	idx := newLocalIndex()
	a.Local, a.Placed = idx, idx.placed
	bs := &batchStore{store: s}
	a.Content = bs
	res := mustApply(t, a, rec)
	assertFile(t, dir, rec, data)
	idx.assertPlaced(t, "d/big", chunks)
	if res.Reused != 0 || res.Fetched <= int64(len(data)) || bs.batched.Load() == 0 {
		t.Errorf("result %+v, %d chunks batched", res, bs.batched.Load())
	}

	s.chunks = map[wire.Hash][]byte{} // everything but the blobs must come from disk
	for _, m := range manifestOf(s, chunks, 64) {
		s.put(s.chunks[m.Hash])
	}
	a.Content = s
	cp := *rec
	cp.Path = "copy"
	if res := mustApply(t, a, &cp); res.Reused != int64(len(data)) {
		t.Errorf("copy: result %+v, want all %d bytes reused", res, len(data))
	}
	assertFile(t, dir, &cp, data)
}

// A list that turns out bad in a later blob, or a blob or chunk that
// cannot be had, fails the apply with the old file kept, and Placed is
// not told of what was written of it.
func TestManifestFailsLate(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(s *store, rec *wire.Record)
		want  error
	}{
		{"blob missing", func(s *store, rec *wire.Record) { delete(s.chunks, rec.Manifest[2].Hash) }, ErrChunkMissing},
		{"blob garbage", func(s *store, rec *wire.Record) {
			rec.Manifest[2] = s.put(bytes.Repeat([]byte{'M', 0}, 30))
		}, ErrBadRecord},
		{"list too long", func(s *store, rec *wire.Record) { rec.Manifest = append(rec.Manifest, rec.Manifest[0]) }, ErrBadRecord},
		{"list too short", func(s *store, rec *wire.Record) { rec.Manifest = rec.Manifest[:3] }, ErrBadRecord},
		{"chunk missing", func(s *store, rec *wire.Record) {
			refs, _ := wire.DecodeManifest(nil, s.chunks[rec.Manifest[3].Hash])
			delete(s.chunks, refs[5].Hash)
		}, ErrChunkMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s, dir := newApplier(t)
			old := randomData(1000, 33)
			mustApply(t, a, s.fileRecord("f", old))
			data := randomData(100*wire.MinChunkLen, 34)
			rec := chunkedRecord(s, "f", data, wire.MinChunkLen)
			rec.Chunks, rec.Manifest = nil, manifestOf(s, rec.Chunks, 20)
			tt.spoil(s, rec)
			a.Placed = func(string, int64, []wire.ChunkRef) { t.Error("Placed told of a file not written") }
			if _, err := a.Apply(context.Background(), rec); !errors.Is(err, tt.want) {
				t.Errorf("Apply = %v, want %v", err, tt.want)
			}
			if got := readFile(t, dir, "f"); got != string(old) {
				t.Error("old file changed")
			}
			assertNoTemps(t, dir)
		})
	}
}

// Applying a file holds a blob's refs and the window's chunks at most,
// however long its list: the live heap grows by about as much for 4n
// chunks as for n. Placed is told of the list a blob's worth at a time. (The chunks are tiny, so that many of them take
// little time and disk; no record of such chunks passes validation, so
// the test applies them below it.)
func TestManifestFileMemoryDoesNotGrowWithChunks(t *testing.T) {
	const n = 8192
	growth := map[int]uint64{}
	for _, count := range []int{n, 4 * n} {
		a, s, dir := newApplier(t)
		data := randomData(count*32, uint64(count))
		rec := chunkedRecord(s, "f", data, 32)
		rec.Chunks, rec.Manifest = nil, manifestOf(s, rec.Chunks, count)
		c := &countingStore{store: s}
		a.Content = c
		var placed, calls int
		a.Placed = func(path string, off int64, refs []wire.ChunkRef) {
			if want := int64(placed * 32); path != "f" || off != want || len(refs) > wire.ManifestBlobChunks {
				t.Errorf("Placed %q at %d with %d refs, want f at %d", path, off, len(refs), want)
			}
			placed += len(refs)
			calls++
		}
		growth[count] = heapGrowth(func(sample func()) {
			c.hook = func(k int64) {
				if k%1024 == 0 {
					sample()
				}
			}
			if _, err := a.applyFile(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		})
		assertFile(t, dir, rec, data)
		assertNoTemps(t, dir)
		if placed != count || calls != (count+wire.ManifestBlobChunks-1)/wire.ManifestBlobChunks {
			t.Errorf("Placed told of %d chunks in %d calls, want %d", placed, calls, count)
		}
		t.Logf("%d chunks in %d blobs: live heap grew by %d KB", count, len(rec.Manifest), growth[count]>>10)
	}
	if growth[4*n] > growth[n]+1<<20 {
		t.Errorf("live heap grew by %d KB for %d chunks, %d KB for %d", growth[4*n]>>10, 4*n, growth[n]>>10, n)
	}
}
