package seal

import (
	"testing"
)

func benchSeal(b *testing.B, n int) {
	f := (&Key{}).For("bench")
	plain := make([]byte, n)
	b.SetBytes(int64(n))
	for b.Loop() {
		sealed := f.Seal(KindChunk, "jetsync.bench.c.x", plain)
		if _, err := f.Open(KindChunk, "jetsync.bench.c.x", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// A state record is a few hundred bytes; a chunk up to 256 KiB.
func BenchmarkSealOpenRecord(b *testing.B) { benchSeal(b, 300) }
func BenchmarkSealOpenChunk(b *testing.B)  { benchSeal(b, 256<<10) }
