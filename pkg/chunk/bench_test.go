package chunk

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	cdc "github.com/PlakarKorp/go-cdc-chunkers"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/treegen"
)

// Benchmark inputs are built on first use only, so a plain `go test`
// never pays for them.
var benchInputs = sync.OnceValue(func() map[string][]byte {
	random := randomBytes(64<<20, 11)
	text := treegen.Text(64<<20, 12)
	return map[string][]byte{
		"random-1MiB": random[:1<<20], "random-64MiB": random,
		"text-1MiB": text[:1<<20], "text-64MiB": text,
	}
})

var benchInputNames = []string{"random-1MiB", "random-64MiB", "text-1MiB", "text-64MiB"}

// BenchmarkSplitter is what a source worker does with a file's bytes:
// content-defined chunking plus a BLAKE3 hash of every chunk and of the
// whole stream.
func BenchmarkSplitter(b *testing.B) {
	for _, name := range benchInputNames {
		b.Run(name, func(b *testing.B) {
			data := benchInputs()[name]
			s, err := NewSplitter()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var chunks int
			for b.Loop() {
				chunks = 0
				_, _, err := s.Split(bytes.NewReader(data), func(wire.Hash, []byte) error { chunks++; return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data))/float64(chunks), "B/chunk")
		})
	}
}

// BenchmarkCDC is the chunker alone (boundaries, no hashing), to split the
// Splitter's cost between cutting and hashing.
func BenchmarkCDC(b *testing.B) {
	for _, name := range benchInputNames {
		b.Run(name, func(b *testing.B) {
			data := benchInputs()[name]
			c, err := cdc.NewChunkerBuffer("fastcdc", nil, opts, make([]byte, 2*MaxSize))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c.Reset(bytes.NewReader(data))
				for {
					chunk, err := c.Next()
					if err != nil || len(chunk) == 0 {
						break
					}
				}
			}
		})
	}
}

// BenchmarkSum is BLAKE3 alone (wire.Sum), over the whole input at once and
// over it in 64 KiB pieces as the Splitter hashes chunks.
func BenchmarkSum(b *testing.B) {
	for _, piece := range []int{64 << 10, 64 << 20} {
		name := fmt.Sprintf("64MiB-in-%s", sizeName(piece))
		b.Run(name, func(b *testing.B) {
			data := benchInputs()["random-64MiB"]
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for off := 0; off < len(data); off += piece {
					_ = wire.Sum(data[off:min(off+piece, len(data))])
				}
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
