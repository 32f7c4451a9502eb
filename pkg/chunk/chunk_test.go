package chunk

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func split(t testing.TB, data []byte) ([]wire.ChunkRef, wire.Hash) {
	t.Helper()
	s, err := NewSplitter()
	if err != nil {
		t.Fatal(err)
	}
	var refs []wire.ChunkRef
	var joined []byte
	sum, n, err := s.Split(bytes.NewReader(data), func(h wire.Hash, d []byte) error {
		if wire.Sum(d) != h { // fn may run on another goroutine: no Fatal
			t.Error("chunk hash mismatch")
		}
		refs = append(refs, wire.ChunkRef{Hash: h, Size: uint32(len(d))})
		joined = append(joined, d...)
		return nil
	})
	if err != nil || n != int64(len(data)) || !bytes.Equal(joined, data) {
		t.Fatalf("split: err=%v n=%d want %d, rejoined equal=%v", err, n, len(data), bytes.Equal(joined, data))
	}
	if sum != wire.Sum(data) {
		t.Fatal("whole-stream hash differs from BLAKE3 of the data")
	}
	return refs, sum
}

func TestSplitBoundsAndRoundTrip(t *testing.T) {
	refs, _ := split(t, randomBytes(8<<20, 1))
	for i, r := range refs {
		if r.Size > MaxSize || (r.Size < MinSize && i != len(refs)-1) {
			t.Fatalf("chunk %d of %d bytes outside [%d, %d]", i, r.Size, MinSize, MaxSize)
		}
	}
	if avg := (8 << 20) / len(refs); avg < AvgSize/2 || avg > AvgSize*2 {
		t.Fatalf("average chunk %d bytes, want about %d", avg, AvgSize)
	}
}

// The chunker never cuts below wire.MinChunkLen, which the records'
// manifest bounds assume: the manifest of a list it cuts (of random data,
// of zeros where one chunk repeats, and a long one made by repeating
// those) passes them.
func TestSplitListsPassManifestBounds(t *testing.T) {
	if MinSize < wire.MinChunkLen {
		t.Fatalf("MinSize %d is below wire.MinChunkLen %d", MinSize, wire.MinChunkLen)
	}
	random, _ := split(t, randomBytes(4<<20+123, 2))
	zeros, _ := split(t, make([]byte, 8<<20+5))
	long := slices.Repeat(slices.Concat(random[:len(random)-1], zeros[:len(zeros)-1]), 300)
	for name, refs := range map[string][]wire.ChunkRef{"random": random, "zeros": zeros,
		"long": append(long, random[len(random)-1])} {
		rec := &wire.Record{Path: "f", Type: wire.File, Hash: wire.Sum(nil)}
		for _, c := range refs {
			rec.Size += int64(c.Size)
		}
		for _, b := range wire.EncodeManifest(refs) {
			rec.Manifest = append(rec.Manifest, wire.ChunkRef{Hash: wire.Sum(b), Size: uint32(len(b))})
		}
		if err := rec.Validate(); err != nil {
			t.Errorf("%s: %d chunks in %d blobs: %v", name, len(refs), len(rec.Manifest), err)
		}
	}
}

// An error from fn ends Split with that error, also past the first MiB
// where fn runs on another goroutine, and fn is not called again.
func TestSplitStopsOnCallbackError(t *testing.T) {
	s, err := NewSplitter()
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	for _, failAt := range []int{3, 60} { // before and after the hand-over
		calls, after := 0, 0
		_, _, err := s.Split(bytes.NewReader(randomBytes(16<<20, 2)), func(wire.Hash, []byte) error {
			calls++
			if calls > failAt {
				after++
			}
			if calls == failAt {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || after != 0 {
			t.Fatalf("fail at chunk %d: err %v, %d calls after the error", failAt, err, after)
		}
	}
	// The Splitter still works afterwards.
	refs, _ := split(t, randomBytes(3<<20, 3))
	if len(refs) == 0 {
		t.Fatal("no chunks")
	}
}

func TestSplitEmpty(t *testing.T) {
	refs, sum := split(t, nil)
	if len(refs) != 0 || sum != wire.Sum(nil) {
		t.Fatalf("empty input gave %d chunks", len(refs))
	}
}

// An edit in the middle must leave most chunks intact: that is what makes a
// 1 MiB change in a big file cost about 1 MiB on the wire.
func TestEditInMiddleKeepsOtherChunks(t *testing.T) {
	data := randomBytes(32<<20, 2)
	before, _ := split(t, data)
	edited := bytes.Clone(data)
	copy(edited[16<<20:], randomBytes(1<<20, 3))
	after, _ := split(t, edited)
	known := map[wire.Hash]bool{}
	for _, r := range before {
		known[r.Hash] = true
	}
	var fresh int64
	for _, r := range after {
		if !known[r.Hash] {
			fresh += int64(r.Size)
		}
	}
	if fresh > 1<<20+2*MaxSize {
		t.Fatalf("1 MiB edit produced %d new bytes of chunks", fresh)
	}
}

func BenchmarkSplit(b *testing.B) {
	data := randomBytes(64<<20, 4)
	s, _ := NewSplitter()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_, _, _ = s.Split(bytes.NewReader(data), func(wire.Hash, []byte) error { return nil })
	}
}
