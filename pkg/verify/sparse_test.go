//go:build linux || freebsd

package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// TestVerifyNamesAFileThatLostItsHoles: a file published sparse must be
// sparse locally too; one whose holes were written out as zeros has the
// right content but is a "sparse" difference. One that keeps its holes
// is equal.
func TestVerifyNamesAFileThatLostItsHoles(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "sp")
	root := t.TempDir()
	const size, off = 64 << 20, 10 << 20
	data := bytes.Repeat([]byte("sparse!!"), 128<<10/8)
	holes, err := os.Create(filepath.Join(root, "big.img"))
	must(t, err)
	defer holes.Close()
	_, err = holes.WriteAt(data, off)
	must(t, err)
	must(t, holes.Truncate(size))
	ext, err := fsmeta.DataRanges(holes, size)
	must(t, err)
	if len(ext) != 1 {
		t.Skipf("the file system of %s keeps no holes: data ranges %+v", root, ext)
	}
	whole := make([]byte, size)
	copy(whole[off:], data)
	must(t, os.WriteFile(filepath.Join(root, "dense.img"), whole, 0o644))
	for _, name := range []string{"big.img", "dense.img"} {
		r := recordOf(t, filepath.Join(root, name), name)
		r.Extents, r.Chunks = ext, []wire.ChunkRef{{Hash: wire.Sum(data), Size: uint32(len(data))}}
		publish(t, js, "sp", r)
	}
	fi, err := os.Stat(filepath.Join(root, "dense.img"))
	must(t, err)
	alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512

	rep := verify(t, js, "sp", root)
	checkDiffs(t, rep.Diffs, []Diff{{Path: "dense.img", Kind: KindSparse,
		Want: "128 KiB allocated of 64 MiB", Got: binarySize(alloc)}}, "sp")
	var buf bytes.Buffer
	rep.WriteText(&buf)
	if want := "sparse dense.img (want 128 KiB allocated of 64 MiB, got " + binarySize(alloc) + ")\n"; !bytes.HasPrefix(buf.Bytes(), []byte(want)) {
		t.Fatalf("report:\n%s\nwant it to start with %q", buf.String(), want)
	}
	// A replica on a file system without holes is verified without it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err = Verify(ctx, js, Options{Folder: "sp", Root: root, Logger: testLogger(t), Ignore: []string{"sparse"}})
	must(t, err)
	if !rep.Equal {
		t.Errorf("--ignore sparse still finds %+v", rep.Diffs)
	}
}

func TestBinarySize(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 128 << 10: "128 KiB", 1 << 30: "1 GiB", 3 << 29: "1.5 GiB"} {
		if got := binarySize(n); got != want {
			t.Errorf("binarySize(%d) = %q, want %q", n, got, want)
		}
	}
}
