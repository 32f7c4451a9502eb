package wire

import (
	"reflect"
	"testing"
)

type placed struct {
	off   int64
	sizes []uint32
}

func placeAll(ext []Extent, dataOff int64, sizes ...uint32) []placed {
	refs := make([]ChunkRef, len(sizes))
	for i, s := range sizes {
		refs[i] = ChunkRef{Hash: Sum([]byte{byte(i)}), Size: s}
	}
	var out []placed
	PlaceChunks(ext, dataOff, refs, func(off int64, rs []ChunkRef) {
		p := placed{off: off}
		for _, r := range rs {
			p.sizes = append(p.sizes, r.Size)
		}
		out = append(out, p)
	})
	return out
}

func TestPlaceChunksOfADenseFile(t *testing.T) {
	got := placeAll(nil, 100, 10, 20)
	if want := []placed{{100, []uint32{10, 20}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestPlaceChunksAtTheirExtents(t *testing.T) {
	ext := []Extent{{Off: 1000, Len: 30}, {Off: 5000, Len: 10}, {Off: 9000, Len: 40}}
	got := placeAll(ext, 0, 10, 20, 10, 15, 25)
	want := []placed{{1000, []uint32{10, 20}}, {5000, []uint32{10}}, {9000, []uint32{15, 25}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// From the middle of the data, as a manifest blob after the first.
	got = placeAll(ext, 30, 10, 15)
	if want := []placed{{5000, []uint32{10}}, {9000, []uint32{15}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("from 30: got %+v, want %+v", got, want)
	}
}

func TestPlaceChunksLeavesOutChunksAcrossExtents(t *testing.T) {
	ext := []Extent{{Off: 0, Len: 30}, {Off: 100, Len: 30}}
	got := placeAll(ext, 0, 10, 30, 10, 50)
	if want := []placed{{0, []uint32{10}}, {110, []uint32{10}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := placeAll([]Extent{}, 0, 10); got != nil {
		t.Fatalf("all hole: got %+v", got)
	}
}
