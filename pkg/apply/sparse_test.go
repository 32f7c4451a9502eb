//go:build linux || freebsd

package apply

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// The sparse file the tests apply: 64 MiB, with 300 KiB of data at
// 10 MiB and a 20 KiB tail.
const sparseSize = 64 << 20

var sparseExt = []wire.Extent{{Off: 10 << 20, Len: 300 << 10}, {Off: sparseSize - 20<<10, Len: 20 << 10}}

// needHoles skips the test where dir's file system keeps no holes.
func needHoles(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteAt([]byte{1}, 1<<20); err != nil {
		t.Fatal(err)
	}
	if r, err := fsmeta.DataRanges(f, 1<<20+1); err != nil || len(r) != 1 || r[0].Off == 0 {
		t.Skipf("the file system of %s keeps no holes (data ranges %+v, %v)", dir, r, err)
	}
}

// sparseRecord stores the chunks of a sparse file's extents, each cut on
// its own, and returns its record and whole content.
func (s *store) sparseRecord(path string, seed uint64) (*wire.Record, []byte) {
	whole := make([]byte, sparseSize)
	rec := &wire.Record{Path: path, Type: wire.File, Mode: 0o640, MTime: testTime.UnixNano(), Size: sparseSize,
		Attrs: wire.Attrs{Extents: sparseExt}}
	for i, x := range sparseExt {
		data := randomData(int(x.Len), seed+uint64(i))
		copy(whole[x.Off:], data)
		for off := 0; off < len(data); off += testChunk {
			rec.Chunks = append(rec.Chunks, s.put(data[off:min(off+testChunk, len(data))]))
		}
	}
	rec.Hash = wire.Sum(whole)
	return rec, whole
}

// assertSparse checks that the file at path holds its data where ext say
// and occupies little more than that.
func assertSparse(t *testing.T, path string, ext []wire.Extent) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	got, err := fsmeta.DataRanges(f, fi.Size())
	if err != nil || !reflect.DeepEqual(got, ext) {
		t.Fatalf("%s has data ranges %+v (%v), want %+v", path, got, err, ext)
	}
	if alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512; alloc > 1<<20 {
		t.Fatalf("%s occupies %d bytes for %d of data", path, alloc, (&wire.Record{Size: fi.Size(), Attrs: wire.Attrs{Extents: ext}}).DataLen())
	}
}

// placeIndex records rec's chunks where they lie in its file, as a
// replica's store does with Result.Chunks.
func (l *localIndex) placeIndex(rec *wire.Record, chunks []wire.ChunkRef) {
	wire.PlaceChunks(rec.Extents, 0, chunks, func(off int64, run []wire.ChunkRef) { l.placed(rec.Path, off, run) })
}

// TestApplySparseFile: a sparse record is written with its data at its
// extents and holes left holes, verified by the whole file's hash; its
// chunks are found again at their offsets in the file, and a second apply
// finds the file unchanged.
func TestApplySparseFile(t *testing.T) {
	a, s, dir := newApplier(t)
	needHoles(t, dir)
	rec, whole := s.sparseRecord("img", 1)
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	res := mustApply(t, a, rec)
	if !res.Changed || res.Fetched != rec.DataLen() || !reflect.DeepEqual(res.Chunks, rec.Chunks) {
		t.Fatalf("result Changed %v Fetched %d, %d chunks; want %d bytes fetched", res.Changed, res.Fetched, len(res.Chunks), rec.DataLen())
	}
	assertFile(t, dir, rec, whole)
	assertSparse(t, filepath.Join(dir, "img"), sparseExt)
	if res := mustApply(t, a, rec); res.Changed || res.Fetched != 0 {
		t.Fatalf("second apply: %+v", res)
	}

	// The same data dense in another file comes from the sparse one.
	idx := newLocalIndex()
	idx.placeIndex(rec, res.Chunks)
	a.Local = idx
	var data []byte
	for _, x := range sparseExt {
		data = append(data, whole[x.Off:x.End()]...)
	}
	dense := s.fileRecord("dense", data)
	dense.Chunks = rec.Chunks
	s.chunks = map[wire.Hash][]byte{} // nothing left to fetch
	res = mustApply(t, a, dense)
	if res.Reused != int64(len(data)) || res.Fetched != 0 {
		t.Fatalf("dense copy reused %d bytes, fetched %d; want all %d reused", res.Reused, res.Fetched, len(data))
	}
	assertFile(t, dir, dense, data)
}

// TestApplySparseManifest: a sparse file whose list comes in manifest
// blobs has its chunks placed at their offsets in the file.
func TestApplySparseManifest(t *testing.T) {
	a, s, dir := newApplier(t)
	needHoles(t, dir)
	rec, whole := s.sparseRecord("img", 2)
	chunks := rec.Chunks
	rec.Chunks, rec.Manifest = nil, manifestOf(s, chunks, 3)
	idx := newLocalIndex()
	a.Placed = idx.placed
	mustApply(t, a, rec)
	assertFile(t, dir, rec, whole)
	assertSparse(t, filepath.Join(dir, "img"), sparseExt)
	off := sparseExt[0].Off
	for i, c := range chunks {
		if i == 5 { // 300 KiB in 64 KiB chunks: the sixth starts the tail
			off = sparseExt[1].Off
		}
		if p, o, ok := idx.FindChunk(c.Hash); !ok || p != "img" || o != off {
			t.Fatalf("chunk %d placed at %q %d (%v), want img %d", i, p, o, ok, off)
		}
		off += int64(c.Size)
	}
}

// TestApplySparseInline: a sparse file's data may come in its record; it
// is checked against the whole file's hash.
func TestApplySparseInline(t *testing.T) {
	a, _, dir := newApplier(t)
	needHoles(t, dir)
	whole := make([]byte, 4<<20)
	copy(whole[2<<20:], "data in the middle of holes")
	ext := []wire.Extent{{Off: 2 << 20, Len: 27}}
	rec := &wire.Record{Path: "f", Type: wire.File, Mode: 0o640, MTime: testTime.UnixNano(), Size: int64(len(whole)),
		Hash: wire.Sum(whole), Data: wire.EncodeChunk(nil, whole[2<<20:2<<20+27], wire.NoCompression),
		Attrs: wire.Attrs{Extents: ext}}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := *rec
	bad.Data = wire.EncodeChunk(nil, []byte("DATA in the middle of holes"), wire.NoCompression)
	if _, err := a.Apply(context.Background(), &bad); !errors.Is(err, wire.ErrCorrupt) {
		t.Fatalf("inline data not matching the hash: %v, want ErrCorrupt", err)
	}
	res := mustApply(t, a, rec)
	if !res.Changed || res.Chunks != nil {
		t.Fatalf("result %+v", res)
	}
	assertFile(t, dir, rec, whole)
	f, err := os.Open(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := fsmeta.DataRanges(f, int64(len(whole))); err != nil || len(got) != 1 || got[0].Len > 64<<10 {
		t.Fatalf("data ranges %+v, %v; want one small range", got, err)
	}
	assertNoTemps(t, dir)
}
