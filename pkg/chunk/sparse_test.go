package chunk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// sparseImage is a file's whole content and its data ranges: 3 MiB of
// random data at 1 MiB and 200 KiB at the end of 12 MiB, zeros elsewhere.
func sparseImage() ([]byte, []wire.Extent) {
	whole := make([]byte, 12<<20)
	ext := []wire.Extent{{Off: 1 << 20, Len: 3 << 20}, {Off: 12<<20 - 200<<10, Len: 200 << 10}}
	for i, e := range ext {
		copy(whole[e.Off:], randomBytes(int(e.Len), uint64(i+7)))
	}
	return whole, ext
}

func TestSplitRangesChunksEachRangeAndHashesHolesAsZeros(t *testing.T) {
	whole, ext := sparseImage()
	s, err := NewSplitter()
	if err != nil {
		t.Fatal(err)
	}
	var refs []wire.ChunkRef
	var data []byte
	sum, n, err := s.SplitRanges(bytes.NewReader(whole), ext, int64(len(whole)), func(h wire.Hash, d []byte) error {
		refs = append(refs, wire.ChunkRef{Hash: h, Size: uint32(len(d))})
		data = append(data, d...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum != wire.Sum(whole) {
		t.Fatal("hash differs from BLAKE3 of the whole file")
	}
	want := append(bytes.Clone(whole[ext[0].Off:ext[0].End()]), whole[ext[1].Off:]...)
	if n != int64(len(want)) || !bytes.Equal(data, want) {
		t.Fatalf("read %d bytes, want the %d of the ranges", n, len(want))
	}
	// No chunk spans the two ranges: the chunks up to the first range's
	// end add up to it exactly.
	var off int64
	for _, r := range refs {
		if off < ext[0].Len && off+int64(r.Size) > ext[0].Len {
			t.Fatalf("chunk at data offset %d spans the ranges", off)
		}
		off += int64(r.Size)
	}
}

func TestHashFileReadsOnlyData(t *testing.T) {
	whole, ext := sparseImage()
	p := filepath.Join(t.TempDir(), "img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, e := range ext {
		if _, err := f.WriteAt(whole[e.Off:e.End()], e.Off); err != nil {
			t.Fatal(err)
		}
	}
	read := 0
	sum, n, err := HashFile(f, make([]byte, 1<<20), func(k int) error { read += k; return nil })
	if err != nil || n != int64(len(whole)) || sum != wire.Sum(whole) {
		t.Fatalf("HashFile = %s, %d, %v; want %s, %d", sum, n, err, wire.Sum(whole), len(whole))
	}
	if dense := int64(len(whole)); int64(read) == dense {
		t.Skipf("file system keeps no holes: all %d bytes read", read)
	}
	if want := ext[0].Len + ext[1].Len; int64(read) != want {
		t.Fatalf("read %d bytes, want the %d of data", read, want)
	}
}
