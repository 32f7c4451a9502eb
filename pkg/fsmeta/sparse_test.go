//go:build linux || freebsd

package fsmeta

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

const (
	sparseSize = 64 << 20
	dataOff    = 10 << 20
	dataLen    = 128 << 10
)

// allocated returns the bytes f occupies on disk.
func allocated(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// sparseSource writes a 64 MiB file with 128 KiB of data at 10 MiB,
// skipping the test where the file system does not keep the hole.
func sparseSource(t *testing.T) (*os.File, []byte) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	data := bytes.Repeat([]byte("0123456789abcdef"), dataLen/16)
	if _, err := f.WriteAt(data, dataOff); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(sparseSize); err != nil {
		t.Fatal(err)
	}
	if a := allocated(t, f); a > sparseSize/8 {
		t.Skipf("file system does not keep holes: %d bytes allocated", a)
	}
	return f, data
}

func TestDataRangesFindsTheData(t *testing.T) {
	src, _ := sparseSource(t)
	got, err := DataRanges(src, sparseSize)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{dataOff, dataLen}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DataRanges = %+v; want %+v", got, want)
	}
	short, err := DataRanges(src, dataOff+100)
	if err != nil || !reflect.DeepEqual(short, []Range{{dataOff, 100}}) {
		t.Fatalf("DataRanges up to %d = %+v, %v", dataOff+100, short, err)
	}
}

func TestDataRangesOfDenseAndEmptyFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dense")
	if err := os.WriteFile(p, make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := DataRanges(f, 5000); err != nil || !reflect.DeepEqual(got, []Range{{0, 5000}}) {
		t.Fatalf("dense: %+v, %v", got, err)
	}
	if got, err := DataRanges(f, 0); err != nil || got != nil {
		t.Fatalf("size 0: %+v, %v", got, err)
	}
}

func TestWriteSparseKeepsHoles(t *testing.T) {
	src, data := sparseSource(t)
	ranges, err := DataRanges(src, sparseSize)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(filepath.Join(t.TempDir(), "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := WriteSparse(dst, src, ranges, sparseSize); err != nil {
		t.Fatal(err)
	}
	if a := allocated(t, dst); a > 1<<20 {
		t.Fatalf("replica occupies %d bytes for %d of data", a, dataLen)
	}
	fi, _ := dst.Stat()
	if fi.Size() != sparseSize {
		t.Fatalf("size = %d; want %d", fi.Size(), sparseSize)
	}
	got := make([]byte, dataLen+2)
	if _, err := dst.ReadAt(got, dataOff-1); err != nil {
		t.Fatal(err)
	}
	if got[0] != 0 || got[len(got)-1] != 0 || !bytes.Equal(got[1:dataLen+1], data) {
		t.Fatal("replica's bytes differ")
	}
}

func TestPunchOrSkipZeroesAnOldRange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "old")
	if err := os.WriteFile(p, bytes.Repeat([]byte{7}, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := allocated(t, f)
	if err := PunchOrSkip(f, Range{1 << 20, 2 << 20}, false); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4<<20)
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if got[1<<20-1] != 7 || got[1<<20] != 0 || got[3<<20-1] != 0 || got[3<<20] != 7 {
		t.Fatal("range not zeroed exactly")
	}
	t.Logf("allocated %d -> %d bytes", before, allocated(t, f))
}
