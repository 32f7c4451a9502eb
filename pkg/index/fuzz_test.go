package index

import (
	"slices"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// FuzzDecodeEntry: a corrupt index value must give an error, never a panic
// or a huge allocation, and whatever decodes must re-encode identically.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range []*Entry{
		file("f", 10, 3, ref("a", 4), ref("b", 6)),
		dir("d", 1),
		{Path: "l", Stat: Stat{Type: wire.Symlink}, Target: "t"},
		{Path: "x", Stat: Stat{Type: wire.Deleted}, Seq: 9},
		{Path: "m", Stat: Stat{Type: wire.File, Size: 5}, Hash: wire.Sum(nil), Manifest: []wire.ChunkRef{ref("m", 3)}},
		{Path: "s", Stat: Stat{Type: wire.File, Size: 1 << 20}, Hash: wire.Sum(nil), Chunks: []wire.ChunkRef{ref("s", 9)},
			Extents: []wire.Extent{{Off: 5, Len: 4}, {Off: 100, Len: 5}}},
	} {
		b, err := encodeEntry(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		head, herr := decodeEntry("p", b, false)
		e, err := decodeEntry("p", b, true)
		if err != nil {
			return
		}
		if herr != nil || head.Stat != e.Stat || head.Seq != e.Seq {
			t.Fatalf("head decode disagrees: %v", herr)
		}
		again, err := encodeEntry(e)
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		if string(again) != string(b) {
			// Non-minimal varints decode but re-encode shorter; that is fine
			// as long as the result decodes to the same entry.
			e2, err := decodeEntry("p", again, true)
			if err != nil || e2.Stat != e.Stat || e2.Seq != e.Seq || e2.Hash != e.Hash || e2.Target != e.Target ||
				!slices.Equal(e2.Extents, e.Extents) {
				t.Fatalf("re-encoded entry differs")
			}
		}
	})
}
