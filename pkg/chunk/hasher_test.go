package chunk

import (
	"math/rand/v2"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// The pipelined hash must equal the one-shot hash whatever the stream's
// length and however it is cut, across the inline/goroutine threshold,
// after Reset and after Stop in the middle of a stream.
func TestHasherMatchesSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3*asyncAfter+12345)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	h := NewHasher()
	for _, n := range []int{0, 1, 1000, asyncAfter - 1, asyncAfter, asyncAfter + 1, len(data)} {
		for _, piece := range []int{1 << 10, 64 << 10, 300 << 10} {
			h.Reset()
			for off := 0; off < n; off += piece {
				p := data[off:min(off+piece, n)]
				h.Write(p)
				if off == n/2/piece*piece {
					h.Stop() // flushes; writing goes on
				}
			}
			got, length := h.Sum()
			if want := wire.Sum(data[:n]); got != want || length != int64(n) {
				t.Fatalf("n=%d piece=%d: got %s (%d bytes), want %s", n, piece, got, length, want)
			}
		}
	}
}

// Write must copy: the caller overwrites its buffer right after.
func TestHasherCopiesPieces(t *testing.T) {
	data := make([]byte, 4*asyncAfter)
	for i := range data {
		data[i] = byte(i * 7)
	}
	h := NewHasher()
	buf := make([]byte, 64<<10)
	for off := 0; off < len(data); off += len(buf) {
		copy(buf, data[off:])
		h.Write(buf)
		for i := range buf {
			buf[i] = 0xff
		}
	}
	if got, _ := h.Sum(); got != wire.Sum(data) {
		t.Fatal("hash changed by reusing the written buffer")
	}
}
