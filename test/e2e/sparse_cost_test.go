//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/test/harness"
)

// sparseCost is what syncing the sparse image took.
type sparseCost struct {
	rchar     int64 // bytes the source process read (/proc/PID/io)
	sent      int64 // content bytes published and served by the source
	allocated int64 // bytes the replica's copy occupies
}

// TestSparseFileCost compares syncing the 1 GiB image of
// TestSparseFileTravelsAsHoles (128 KiB of data and a 10 KiB tail) with
// jetsync built at the commit JETSYNC_SPARSE_BASELINE names and with this
// build: what the source reads and sends, and what the replica's copy
// occupies. This build must do it in a hundredth of the baseline's reads
// and disk. Skipped unless JETSYNC_SPARSE_BASELINE is set:
//
//	JETSYNC_SPARSE_BASELINE=7238562 go test ./test/e2e -run TestSparseFileCost -v -count=1
func TestSparseFileCost(t *testing.T) {
	base := os.Getenv("JETSYNC_SPARSE_BASELINE")
	if base == "" {
		t.Skip("set JETSYNC_SPARSE_BASELINE to a commit to compare this build with")
	}
	before := syncSparse(t, harness.BuildCommit(t, base), "before")
	after := syncSparse(t, harness.Binary(harness.Bin), "after")
	for _, c := range []struct {
		name string
		cost sparseCost
	}{{base, before}, {"this build", after}} {
		t.Logf("%s: source read %d bytes, sent %d; the replica's copy occupies %d bytes (du) of %d",
			c.name, c.cost.rchar, c.cost.sent, c.cost.allocated, imgSize)
	}
	if after.rchar*100 > before.rchar || after.allocated*100 > before.allocated {
		t.Errorf("this build reads %d bytes and writes a copy of %d; the baseline %d and %d",
			after.rchar, after.allocated, before.rchar, before.allocated)
	}
}

// syncSparse syncs the image with a source and a replica of binary b, on
// a broker of this build, and returns what it cost.
func syncSparse(t *testing.T, b harness.Binary, name string) sparseCost {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	harness.Must(t, os.MkdirAll(src, 0o755))
	img := filepath.Join(src, "big.img")
	writeAt(t, img, randomData(imgDataLen, 1), imgDataOff)
	writeAt(t, img, randomData(imgTailLen, 2), imgSize-imgTailLen)
	if a := allocatedBytes(t, img); a > imgMaxAlloc {
		t.Skipf("the file system of %s keeps no holes: %d bytes allocated", src, a)
	}
	addr, metrics, folder := harness.FreeAddr(t), harness.FreeAddr(t), "cost-"+name
	url := "nats://" + addr
	harness.StartBroker(t, filepath.Join(dir, "broker"), addr)
	source := b.StartSource(t, "source-"+name, url, folder, src, filepath.Join(dir, "source-data"),
		"--metrics", metrics, "--nkey", harness.Credentials(t, url, access.SourceOf(folder)))
	replica := b.StartReplica(t, "replica-"+name, url, folder, dst, filepath.Join(dir, "replica-data"), "r1",
		"--nkey", harness.Credentials(t, url, access.ReplicaOf(folder, "r1")))
	sameContent(t, img, filepath.Join(dst, "big.img"))
	m := harness.ScrapeEventually(t, metrics)
	c := sparseCost{
		rchar: procRead(t, source.Pid()),
		sent: int64(harness.Metric(m, "jetsync_source_published_bytes_total") +
			harness.Metric(m, "jetsync_source_content_served_bytes_total")),
		allocated: allocatedBytes(t, filepath.Join(dst, "big.img")),
	}
	harness.Must(t, source.Stop())
	harness.Must(t, replica.Stop())
	return c
}

// procRead is rchar of /proc/PID/io: the bytes process pid has read.
func procRead(t *testing.T, pid int) int64 {
	t.Helper()
	v, err := strconv.ParseInt(strings.TrimSpace(rchar(pid)), 10, 64)
	if err != nil {
		t.Skipf("no read count for process %d: %v", pid, err)
	}
	return v
}
