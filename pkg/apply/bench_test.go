package apply

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Applier benchmarks: the disk side of the apply pipeline alone. Content
// comes from the package's in-memory test store (no broker), so what is
// measured is writing temp files, hashing, fsyncing the file and its
// directory and renaming. Each iteration applies into an empty root.

const (
	benchSmallFiles = 2000
	benchSmallMin   = 4 << 10
	benchSmallMax   = 64 << 10
	benchBigFile    = 64 << 20
)

func BenchmarkApply(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("%d-small-files/workers=%d", benchSmallFiles, workers), func(b *testing.B) {
			s := newStore()
			r := rand.New(rand.NewPCG(1, 2))
			var recs []*wire.Record
			var total int64
			for i := range benchSmallFiles {
				size := benchSmallMin + r.IntN(benchSmallMax-benchSmallMin+1)
				recs = append(recs, s.fileRecord(fmt.Sprintf("d%03d/f%05d.dat", i/100, i), randomData(size, uint64(i))))
				total += int64(size)
			}
			benchApply(b, s, recs, total, workers)
		})
	}
	b.Run("64MiB-file", func(b *testing.B) {
		s := newStore()
		recs := []*wire.Record{s.fileRecord("big.bin", randomData(benchBigFile, 7))}
		benchApply(b, s, recs, benchBigFile, 1)
	})
	// The same file with its list in manifest blobs (5 of them), read
	// from memory, then with every fetch a round trip away.
	s := newStore()
	rec := s.fileRecord("big.bin", randomData(benchBigFile, 7))
	for _, blob := range wire.EncodeManifest(rec.Chunks) {
		rec.Manifest = append(rec.Manifest, s.put(blob))
	}
	rec.Chunks = nil
	b.Run("64MiB-manifest-file", func(b *testing.B) {
		benchApply(b, s, []*wire.Record{rec}, benchBigFile, 1)
	})
	b.Run("64MiB-manifest-file/latency=1ms", func(b *testing.B) {
		benchApply(b, &slowStore{store: s, delay: time.Millisecond}, []*wire.Record{rec}, benchBigFile, 1)
	})
}

func benchApply(b *testing.B, s Content, recs []*wire.Record, size int64, workers int) {
	var dirs []*wire.Record
	seen := map[string]bool{}
	for _, rec := range recs {
		if d := wire.Parent(rec.Path); d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, dirRecord(d, 0o755))
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	ctx := context.Background()
	for range b.N {
		root, err := fsroot.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		a := &Applier{Root: root, Content: s}
		b.StartTimer()
		for _, d := range dirs {
			mustApply(b, a, d)
		}
		jobs := make(chan *wire.Record)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for rec := range jobs {
					if _, err := a.Apply(ctx, rec); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, rec := range recs {
			jobs <- rec
		}
		close(jobs)
		wg.Wait()
		b.StopTimer()
		root.Close()
	}
	if len(recs) > 1 {
		b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "files/s")
	}
}
