package source

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetsync/jetsync/test/treegen"
)

// Publish pipeline benchmarks: a source started on a prepared tree against
// a real embedded JetStream, timed from start until it reports idle (the
// initial scan done: every file read, chunked and hashed, every record
// acknowledged; content is not published, replicas pull it). Every iteration
// uses a fresh broker and data dir so nothing is deduplicated; the tree is
// shared. Broker start and source shutdown are not timed.

const (
	benchSmallFiles = 2000
	benchSmallMin   = 4 << 10
	benchSmallMax   = 64 << 10
	benchBigFile    = 64 << 20
)

func BenchmarkSourcePublish(b *testing.B) {
	b.Run(fmt.Sprintf("%d-small-files", benchSmallFiles), func(b *testing.B) {
		root := b.TempDir()
		n, size := writeSmallFiles(b, root, benchSmallFiles)
		benchSource(b, root, n, size)
	})
	b.Run("64MiB-file", func(b *testing.B) {
		root := b.TempDir()
		writeBenchFile(b, filepath.Join(root, "big.bin"), treegen.Random(benchBigFile, 7))
		benchSource(b, root, 1, benchBigFile)
	})
}

func benchSource(b *testing.B, root string, files int, size int64) {
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		f := newFixture(b)
		f.root = root
		b.StartTimer()
		r := f.start()
		r.waitIdle(b)
		b.StopTimer()
		if p := r.src.Progress(); p.PublishedFiles < int64(files) || p.Errors > 0 {
			b.Fatalf("source idle after %d records, want %d: %+v", p.PublishedFiles, files, p)
		}
		r.stop(b)
	}
	if files > 1 {
		b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
	}
}

// writeSmallFiles writes n files of 4–64 KiB in directories of 100,
// alternately random (incompressible) and text-like content, and returns
// their count and total size.
func writeSmallFiles(b *testing.B, root string, n int) (int, int64) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range n {
		size := benchSmallMin + r.IntN(benchSmallMax-benchSmallMin+1)
		data := treegen.Random(size, uint64(i))
		if i%2 == 1 {
			data = treegen.Text(size, uint64(i))
		}
		writeBenchFile(b, filepath.Join(root, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.dat", i)), data)
		total += int64(size)
	}
	return n, total
}

func writeBenchFile(b *testing.B, path string, data []byte) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}
