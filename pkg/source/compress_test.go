package source

import (
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// TestCompressionSetting: text content is published (inline) and served
// (chunks) with the configured codec.
func TestCompressionSetting(t *testing.T) {
	t.Parallel()
	for comp, want := range map[wire.Compression]byte{wire.NoCompression: wire.CodecRaw,
		wire.FastCompression: wire.CodecS2, wire.SmallCompression: wire.CodecZstd} {
		f := newFixture(t)
		text := strings.Repeat("the quick brown fox jumps over the lazy dog ", 3000) // 132 KB
		tree{"big.txt": file(text), "small.txt": file(text[:4000])}.create(t, f.root)
		r := f.start(func(c *Config, _ *Source) { c.Compression = comp })
		r.waitIdle(t)
		small := f.record("small.txt")
		if small == nil || len(small.Data) < 2 || small.Data[1] != want {
			t.Fatalf("compression %v: small file record %+v, want inline content with codec %d", comp, small, want)
		}
		big := f.record("big.txt")
		if big == nil || len(big.Chunks) == 0 {
			t.Fatalf("compression %v: big file record %+v, want chunks", comp, big)
		}
		item, _, err := f.content(wire.ContentChunks, "big.txt", big.Chunks[0].Hash)
		if err != nil || item.Payload[1] != want {
			t.Fatalf("compression %v: first chunk served as %v (%v), want codec %d", comp, item, err, want)
		}
		f.converged(0)
		r.stop(t)
	}
}
