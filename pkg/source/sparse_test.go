package source

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Layout of the sparse image the tests make: 64 MiB, 128 KiB of data at
// 10 MiB and a 20 KiB tail.
const (
	imgSize    = 64 << 20
	imgDataOff = 10 << 20
	imgDataLen = 128 << 10
	imgTailLen = 20 << 10
)

// makeSparse writes the image at path, skipping the test where the file
// system keeps no holes. It returns the data ranges it has.
func makeSparse(t *testing.T, path string) []wire.Extent {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte(randomBytes(t, imgDataLen)), imgDataOff)
	must(t, err)
	_, err = f.WriteAt([]byte(randomBytes(t, imgTailLen)), imgSize-imgTailLen)
	must(t, err)
	ranges, err := fsmeta.DataRanges(f, imgSize)
	must(t, err)
	if len(ranges) != 2 {
		t.Skipf("the file system of %s keeps no holes: data ranges %+v", path, ranges)
	}
	return ranges
}

// TestSparseFileIsPublishedAsExtents: a file with holes is read and
// published as its data ranges only, its hash still that of the whole
// file; the content service finds each chunk where it lies in the file,
// also after a restart, when it has only the index to go by.
func TestSparseFileIsPublishedAsExtents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ranges := makeSparse(t, filepath.Join(f.root, "img"))
	// Holes too small to be worth it: 32 KiB of 1 MiB.
	small := []byte(randomBytes(t, 1<<20))
	clear(small[100<<10 : 132<<10])
	must(t, os.WriteFile(filepath.Join(f.root, "small"), small, 0o644))
	r := f.start()
	r.waitIdle(t)
	f.converged(20 * time.Second)

	rec := f.record("img")
	if !reflect.DeepEqual(rec.Extents, ranges) || rec.Size != imgSize {
		t.Fatalf("img published with size %d, extents %+v; want %d, %+v", rec.Size, rec.Extents, imgSize, ranges)
	}
	if got := rec.DataLen(); got != imgDataLen+imgTailLen {
		t.Fatalf("img's chunks hold %d bytes, want %d", got, imgDataLen+imgTailLen)
	}
	if rs := f.record("small"); rs.Extents != nil {
		t.Fatalf("small published sparse: %+v", rs.Extents)
	}
	read := r.counter(t, "jetsync_source_read_bytes_total")
	if want := float64(imgDataLen + imgTailLen + len(small)); read != want {
		t.Fatalf("read %.0f bytes, want %.0f: the data and the small file, no hole", read, want)
	}
	seq := f.lastSeq()
	r.stop(t)

	r = f.start()
	r.waitIdle(t)
	f.converged(20 * time.Second) // served from the index's extents
	if f.lastSeq() != seq {
		t.Fatalf("unchanged files published again after a restart: seq %d -> %d", seq, f.lastSeq())
	}
}

// TestAllHoleFileHasNoContent: a file that is all hole is published with
// empty extents and no chunks.
func TestAllHoleFileHasNoContent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	makeSparse(t, filepath.Join(t.TempDir(), "probe"))
	must(t, os.WriteFile(filepath.Join(f.root, "hole"), nil, 0o644))
	must(t, os.Truncate(filepath.Join(f.root, "hole"), 8<<20))
	r := f.start()
	r.waitIdle(t)
	f.converged(20 * time.Second)
	rec := f.record("hole")
	if rec.Extents == nil || len(rec.Extents) != 0 || len(rec.Chunks) != 0 || rec.Size != 8<<20 {
		t.Fatalf("hole published with extents %+v, %d chunks, size %d", rec.Extents, len(rec.Chunks), rec.Size)
	}
}

// TestSparseBytesReadLikeTheFile: a sparse version kept in memory reads
// as the file did, holes as zeros, at any offset.
func TestSparseBytesReadLikeTheFile(t *testing.T) {
	whole := make([]byte, 1000)
	ext := []wire.Extent{{Off: 100, Len: 50}, {Off: 400, Len: 300}, {Off: 990, Len: 10}}
	var data []byte
	for i, x := range ext {
		for k := x.Off; k < x.End(); k++ {
			whole[k] = byte(i*31 + int(k))
		}
		data = append(data, whole[x.Off:x.End()]...)
	}
	sb := &sparseBytes{data: data, ext: ext, size: int64(len(whole))}
	for _, c := range []struct{ off, n int64 }{{0, 1000}, {120, 300}, {399, 2}, {600, 400}, {995, 10}} {
		p := bytes.Repeat([]byte{0xff}, int(c.n))
		n, err := sb.ReadAt(p, c.off)
		want := whole[c.off:min(c.off+c.n, 1000)]
		if !bytes.Equal(p[:n], want) || (n < int(c.n)) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; bytes differ: %v", c.n, c.off, n, err, !bytes.Equal(p[:n], want))
		}
	}
}

// TestHotSparseVersionIsServedFromMemory: the version of a file that
// changes often is kept in memory when small enough; for a sparse file
// that is its data, served at the offsets it had in the file after the
// file was rewritten in place.
func TestHotSparseVersionIsServedFromMemory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.manualServing()
	ctx := context.Background()
	sp, err := chunk.NewSplitter()
	must(t, err)
	p := filepath.Join(f.root, "img")
	makeSparse(t, p)
	s.busy.mark("img") // changing lately: its version is pinned
	s.track.add()
	s.publishFile(ctx, sp, "img")
	must(t, s.track.wait(ctx, nil))
	rec := f.record("img")
	if rec == nil || rec.Extents == nil {
		t.Fatalf("record %+v, want one with extents", rec)
	}
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	must(t, err)
	_, err = fh.WriteAt([]byte(randomBytes(t, imgDataLen)), imgDataOff)
	must(t, err)
	must(t, fh.Close())
	for _, c := range rec.Chunks {
		if _, _, err := f.content(wire.ContentChunks, "img", c.Hash); err != nil {
			t.Fatalf("chunk of the published version, after the file was rewritten: %v", err)
		}
	}
}
