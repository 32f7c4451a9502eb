package wire

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// blobOf writes a blob of n refs of the given size, valid but for how
// many there may be.
func blobOf(n int, size uint32) []byte {
	refs := make([]ChunkRef, n)
	for i := range refs {
		refs[i] = ChunkRef{Hash: Sum(binary.LittleEndian.AppendUint32(nil, uint32(i))), Size: size}
	}
	return encodeBlob(refs)
}

// maxSizeLen, a constant, is the uvarint length of MaxChunkLen.
func TestMaxSizeLen(t *testing.T) {
	if n := len(binary.AppendUvarint(nil, MaxChunkLen)); n != maxSizeLen {
		t.Fatalf("a size of MaxChunkLen takes %d bytes, maxSizeLen is %d", n, maxSizeLen)
	}
}

// DecodeManifest takes the fullest blob EncodeManifest can write and
// rejects, before appending anything, a blob of more refs or bytes than
// that, an empty one and one whose sizes are not in their shortest form.
func TestDecodeManifestBounds(t *testing.T) {
	full := blobOf(ManifestBlobChunks, MaxChunkLen)
	if len(full) != MaxManifestBlobLen {
		t.Fatalf("full blob of %d bytes, MaxManifestBlobLen %d", len(full), MaxManifestBlobLen)
	}
	refs, err := DecodeManifest(nil, full)
	if err != nil || len(refs) != ManifestBlobChunks {
		t.Fatalf("full blob: %d refs, %v", len(refs), err)
	}
	overlong := blobOf(1, 5)
	overlong[len(overlong)-1] |= 0x80
	overlong = append(overlong, 0)
	bad := map[string][]byte{
		"one ref too many":        blobOf(ManifestBlobChunks+1, 1), // short sizes: within the byte bound
		"31,000 refs (1 MiB)":     blobOf(31000, 1),
		"empty":                   {manifestTag},
		"no tag":                  {},
		"size in a longer form":   overlong,
		"truncated":               blobOf(2, 9)[:40],
		"size above MaxChunkLen":  blobOf(1, MaxChunkLen+1),
		"zero size":               blobOf(1, 0),
		"longer than any written": append(full, blobOf(1, 1)[1:]...),
	}
	for name, b := range bad {
		dst := []ChunkRef{{Size: 1}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 3 {
			if _, err = DecodeManifest(dst, b); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v, want ErrMalformed", name, err)
			}
		}
		runtime.ReadMemStats(&after)
		// The error alone, whatever the blob holds: a decoder that appended
		// before checking would allocate the refs (36 bytes each).
		if n := after.TotalAlloc - before.TotalAlloc; n > 3*4096 {
			t.Errorf("%s: %d bytes allocated to reject it 3 times", name, n)
		}
	}
}

// manifestRecord is the record of a file whose chunk list is refs, in
// the blobs EncodeManifest cuts.
func manifestRecord(refs []ChunkRef) *Record {
	r := &Record{Path: "big", Type: File, Hash: Sum([]byte("content")), Size: sumSizes(refs)}
	for _, b := range EncodeManifest(refs) {
		r.Manifest = append(r.Manifest, ChunkRef{Hash: Sum(b), Size: uint32(len(b))})
	}
	return r
}

// sizedRefs returns n refs of the sizes size(i) gives, with distinct
// hashes.
func sizedRefs(n int, size func(i int) uint32) []ChunkRef {
	refs := make([]ChunkRef, n)
	for i := range refs {
		refs[i] = ChunkRef{Hash: Sum(binary.LittleEndian.AppendUint64(nil, uint64(i))), Size: size(i)}
	}
	return refs
}

// Every list a source can publish passes the record's manifest bounds:
// the longest lists for their size (every chunk at the minimum, the last
// one byte), chunks of the largest size, one chunk repeated all along,
// sizes as the chunker cuts them.
func TestLegitManifestsPass(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lists := map[string][]ChunkRef{
		"one small chunk": sizedRefs(1, func(int) uint32 { return 100 }),
		"shortest chunks": sizedRefs(300000, func(i int) uint32 {
			if i == 299999 {
				return 1
			}
			return MinChunkLen
		}),
		"full blobs of shortest chunks": sizedRefs(3*ManifestBlobChunks, func(int) uint32 { return MinChunkLen }),
		"largest chunks":                sizedRefs(5000, func(int) uint32 { return MaxChunkLen }),
		"chunker sizes":                 sizedRefs(100000, func(int) uint32 { return MinChunkLen + r.Uint32N(240<<10) }),
		"one chunk repeated":            slices.Repeat(sizedRefs(1, func(int) uint32 { return 256 << 10 }), 1<<20),
	}
	for name, refs := range lists {
		rec := manifestRecord(refs)
		if err := rec.Validate(); err != nil {
			t.Errorf("%s (%d refs, %d blobs): %v", name, len(refs), len(rec.Manifest), err)
		}
	}
	rec := manifestRecord(lists["chunker sizes"])
	b, err := EncodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeRecord(b); err != nil || !slices.Equal(got.Manifest, rec.Manifest) {
		t.Fatalf("round trip: %v", err)
	}
}

// A record whose manifest could not have been written for its size is
// malformed before anything is fetched.
func TestManifestBoundsReject(t *testing.T) {
	blob := func(n uint32) ChunkRef { return ChunkRef{Hash: Sum([]byte{byte(n), byte(n >> 8)}), Size: n} }
	legit := manifestRecord(sizedRefs(5000, func(int) uint32 { return MinChunkLen }))
	bad := map[string]func(r *Record){
		"the issue's bomb: a 1 MiB blob 1,000 times": func(r *Record) {
			r.Size = MaxFileSize
			r.Manifest = slices.Repeat([]ChunkRef{blob(1 + 31000*33)}, 1000)
		},
		"blob longer than any written": func(r *Record) { r.Manifest[0] = blob(MaxManifestBlobLen + 1) },
		"blob too short for a ref":     func(r *Record) { r.Manifest[0] = blob(minManifestBlobLen - 1) },
		"more blobs than chunks": func(r *Record) {
			r.Size = 2 * MinChunkLen
			r.Manifest = []ChunkRef{blob(34), blob(35), blob(36)}
		},
		"more blob bytes than the chunks need": func(r *Record) {
			r.Size = 3 * MinChunkLen
			r.Manifest = []ChunkRef{blob(1 + 3*maxRefLen + 1)}
		},
		"zero hash": func(r *Record) { r.Manifest[1].Hash = Hash{} },
	}
	for name, spoil := range bad {
		r := *legit
		r.Manifest = slices.Clone(legit.Manifest)
		spoil(&r)
		if err := r.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
