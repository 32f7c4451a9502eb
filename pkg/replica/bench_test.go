package replica

import (
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/treegen"
)

// Apply pipeline benchmarks: records and chunks are published beforehand
// into a real embedded JetStream with the test publisher (not timed); each
// iteration starts a replica on an empty root and data dir and is timed
// until every record is applied and committed and the replica reports
// itself settled. Replica shutdown is not timed.

const (
	benchSmallFiles = 2000
	benchSmallMin   = 4 << 10
	benchSmallMax   = 64 << 10
	benchBigFile    = 64 << 20
)

var benchMTime = time.Unix(1700000000, 0)

func BenchmarkReplicaApply(b *testing.B) {
	b.Run(fmt.Sprintf("%d-small-files", benchSmallFiles), func(b *testing.B) {
		benchReplica(b, func(pub *publisher) (int, int64) {
			r := rand.New(rand.NewPCG(1, 2))
			var total int64
			for d := range (benchSmallFiles + 99) / 100 {
				pub.record(wire.Record{Path: fmt.Sprintf("d%03d", d), Type: wire.Dir, Mode: 0o755,
					MTime: benchMTime.UnixNano()})
			}
			for i := range benchSmallFiles {
				size := benchSmallMin + r.IntN(benchSmallMax-benchSmallMin+1)
				data := treegen.Random(size, uint64(i))
				if i%2 == 1 {
					data = treegen.Text(size, uint64(i))
				}
				pub.file(fmt.Sprintf("d%03d/f%05d.dat", i/100, i), data, 0o644, benchMTime)
				total += int64(size)
			}
			return benchSmallFiles, total
		})
	})
	b.Run("64MiB-file", func(b *testing.B) {
		benchReplica(b, func(pub *publisher) (int, int64) {
			pub.file("big.bin", treegen.Random(benchBigFile, 7), 0o644, benchMTime)
			return 1, benchBigFile
		})
	})
}

func benchReplica(b *testing.B, publish func(*publisher) (int, int64)) {
	quietDefaultLogger(b)
	br := jstest.RunJetStream(b)
	nc := jstest.Connect(b, br)
	pub := newPublisher(b, nc)
	files, size := publish(pub)
	last := pub.record(wire.Record{Path: "last-marker", Type: wire.Dir, Mode: 0o755, MTime: benchMTime.UnixNano()})

	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		root, data := b.TempDir(), b.TempDir()
		b.StartTimer()
		r, stop, _ := startReplica(b, nc, root, data)
		jstest.Eventually(b, time.Minute, func() bool {
			p := r.Progress()
			return p.Cursor >= last && p.Settled
		}, "replica did not catch up")
		b.StopTimer()
		if p := r.Progress(); p.Files != int64(files) || p.Errors > 0 {
			b.Fatalf("replica applied %d files, want %d: %+v", p.Files, files, p)
		}
		stop()
	}
	if files > 1 {
		b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
	}
}

// quietDefaultLogger keeps the replica's info lines (it logs to
// slog.Default) out of the benchmark output until b ends.
func quietDefaultLogger(b *testing.B) {
	w, flags, old := log.Writer(), log.Flags(), slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	b.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(w)
		log.SetFlags(flags)
	})
}
