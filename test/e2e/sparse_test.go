//go:build linux || freebsd

package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/test/harness"
)

// The sparse image of TestSparseFileTravelsAsHoles: 1 GiB, 128 KiB of
// data at 300 MiB and a 10 KiB tail, then 64 KiB written into a hole.
const (
	imgSize    = 1 << 30
	imgDataOff = 300 << 20
	imgDataLen = 128 << 10
	imgTailLen = 10 << 10
	imgFillOff = 700 << 20
	imgFillLen = 64 << 10
	// imgMaxAlloc is the most the replica's copy may occupy: its data,
	// with room for the file system's allocation granularity.
	imgMaxAlloc = 2 << 20
)

// TestSparseFileTravelsAsHoles: a sparse file is read, published and
// written as its data only. The replica's copy is sparse in the same
// places and equal in content; data written into a hole at the source
// reaches it and it stays sparse; verify passes, and names the file once
// its holes are written out.
func TestSparseFileTravelsAsHoles(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, os.MkdirAll(src, 0o755))
	img := filepath.Join(src, "big.img")
	writeAt(t, img, randomData(imgDataLen, 1), imgDataOff)
	writeAt(t, img, randomData(imgTailLen, 2), imgSize-imgTailLen)
	if a := allocatedBytes(t, img); a > imgMaxAlloc {
		t.Skipf("the file system of %s keeps no holes: %d bytes allocated", src, a)
	}
	srcMetrics := harness.FreeAddr(t)
	tr := harness.StartTrioWith(t, "sparse", src, []string{"--metrics", srcMetrics}, nil)
	dst := filepath.Join(tr.Dst, "big.img")

	harness.Phase(t, "initial sync", func() {
		sameContent(t, img, dst)
		assertSent(t, tr, srcMetrics, dst)
		assertSparse(t, dst)
	})
	harness.Phase(t, "data written into a hole", func() {
		writeAt(t, img, randomData(imgFillLen, 3), imgFillOff)
		sameContent(t, img, dst)
		assertSent(t, tr, srcMetrics, dst)
		assertSparse(t, dst)
		f, err := os.Open(dst)
		harness.Must(t, err)
		defer f.Close()
		ranges, err := fsmeta.DataRanges(f, imgSize)
		harness.Must(t, err)
		if len(ranges) != 3 || ranges[1].Off > imgFillOff || ranges[1].End() < imgFillOff+imgFillLen {
			t.Errorf("replica's data ranges %+v, want three, the second at %d", ranges, imgFillOff)
		}
	})
	harness.Phase(t, "verify", func() {
		if res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst); res.Code != 0 {
			t.Fatalf("verify of the sparse replica: %s", res)
		}
		harness.Must(t, tr.Replica.Stop())
		fillHoles(t, dst)
		res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst)
		// The data is 202 KiB, as the file system's blocks round it.
		line := harness.GrepLines(res.Stdout, "sparse big.img (want ")
		if res.Code != 1 || !strings.Contains(line, " KiB allocated of 1 GiB, got 1") {
			t.Fatalf("verify of a replica whose holes were written out: want exit 1 naming it sparse, got %s", res)
		}
	})
}

// assertSent checks that the source read and sent (to the content cache,
// inline, or from its content service) little more than the data so far.
func assertSent(t *testing.T, tr *harness.Trio, metrics, dst string) {
	t.Helper()
	m := harness.ScrapeEventually(t, metrics)
	read := harness.Metric(m, "jetsync_source_read_bytes_total")
	sent := harness.Metric(m, "jetsync_source_published_bytes_total") + harness.Metric(m, "jetsync_source_content_served_bytes_total")
	t.Logf("source read %.0f bytes and sent %.0f (process rchar %s); the replica's copy occupies %d bytes of %d",
		read, sent, rchar(tr.Source.Pid()), allocatedBytes(t, dst), imgSize)
	if read > imgMaxAlloc || sent > imgMaxAlloc {
		t.Errorf("source read %.0f bytes and sent %.0f for %d of data", read, sent, imgDataLen+imgTailLen+imgFillLen)
	}
}

func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeAt writes data at off in the file at path, creating it sparse and
// imgSize long if need be.
func writeAt(t *testing.T, path string, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	harness.Must(t, err)
	defer f.Close()
	harness.Must(t, f.Truncate(imgSize))
	_, err = f.WriteAt(data, off)
	harness.Must(t, err)
}

func allocatedBytes(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	harness.Must(t, err)
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func assertSparse(t *testing.T, path string) {
	t.Helper()
	if a := allocatedBytes(t, path); a > imgMaxAlloc {
		t.Errorf("%s occupies %d bytes, want at most %d", path, a, imgMaxAlloc)
	}
}

// sameContent waits until dst has src's content, hashing both without
// reading their holes.
func sameContent(t *testing.T, src, dst string) {
	t.Helper()
	want := hashOf(t, src)
	harness.Eventually(t, 2*time.Minute, func() (bool, string) {
		if _, err := os.Stat(dst); err != nil {
			return false, err.Error()
		}
		if got := hashOf(t, dst); got != want {
			return false, "replica's content hashes to " + got
		}
		return true, ""
	})
}

func hashOf(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	harness.Must(t, err)
	defer f.Close()
	h, n, err := chunk.HashFile(f, make([]byte, 1<<20), nil)
	harness.Must(t, err)
	return h.String() + "/" + strconv.FormatInt(n, 10)
}

// fillHoles rewrites the file at path with its holes written out as
// zeros, keeping its content and mtime.
func fillHoles(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	harness.Must(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	harness.Must(t, err)
	defer f.Close()
	zeros, buf := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); off < fi.Size(); off += int64(len(buf)) {
		n, err := f.ReadAt(buf, off)
		if n == 0 {
			harness.Must(t, err)
		}
		if bytes.Equal(buf[:n], zeros[:n]) {
			_, err = f.WriteAt(zeros[:n], off)
			harness.Must(t, err)
		}
	}
	harness.Must(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
}

// rchar is how many bytes process pid has read, by /proc/PID/io, for the
// log; "?" where the platform does not say.
func rchar(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			return v
		}
	}
	return "?"
}
