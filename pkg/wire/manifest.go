package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt marks content that does not match its hash.
var ErrCorrupt = errors.New("content does not match hash")

// A manifest blob holds part of a long chunk list: the byte 'M', then per
// chunk its 32-byte hash and uvarint size. Blobs are stored like chunks,
// under their own hash.
const manifestTag = 'M'

// ManifestBlobChunks is how many chunk refs one blob holds at most.
const ManifestBlobChunks = 16384

// Manifest blob boundaries are content-defined: a blob ends after a chunk
// whose hash has its low manifestBits(n) bits set (n is the list's
// length), so an edit that adds, removes or changes chunks changes only
// the blobs around it; with fixed-size blobs every blob after an inserted
// chunk would change and be published again. A blob holds at least a
// quarter of the average and at most ManifestBlobChunks refs.
const (
	minManifestBits = 8  // 256 refs (about 9 KB) per blob on average
	maxManifestBits = 14 // 16,384 refs for lists of 16M chunks (1 TiB) and more
	// targetManifestBlobs is the blob count the average aims at for long
	// lists, which keeps a record's manifest list far below MaxRecordLen.
	targetManifestBlobs = 1024
)

func manifestBits(n int) uint {
	bits := uint(minManifestBits)
	for bits < maxManifestBits && n>>bits > targetManifestBlobs {
		bits++
	}
	return bits
}

// EncodeManifest splits a chunk list into blobs.
func EncodeManifest(cs []ChunkRef) [][]byte {
	ends := manifestCuts(cs)
	blobs := make([][]byte, 0, len(ends))
	start := 0
	for _, end := range ends {
		part := cs[start:end]
		b := make([]byte, 0, 1+len(part)*(32+3))
		b = append(b, manifestTag)
		for _, c := range part {
			b = append(b, c.Hash[:]...)
			b = binary.AppendUvarint(b, uint64(c.Size))
		}
		blobs = append(blobs, b)
		start = end
	}
	return blobs
}

// manifestCuts returns where each blob of cs ends. Should the hashes not
// be spread (one chunk repeated all along, as in a file of zeros, whose
// hash may match the cut condition every time), it falls back to full
// blobs of ManifestBlobChunks refs, so the blob count stays bounded.
func manifestCuts(cs []ChunkRef) []int {
	bits := manifestBits(len(cs))
	mask := uint32(1)<<bits - 1
	minRefs := 1 << (bits - 2)
	var ends []int
	start := 0
	for i, c := range cs {
		n := i + 1 - start
		if n >= ManifestBlobChunks || (n >= minRefs && binary.LittleEndian.Uint32(c.Hash[:4])&mask == mask) {
			ends = append(ends, i+1)
			start = i + 1
		}
	}
	if start < len(cs) {
		ends = append(ends, len(cs))
	}
	fixed := (len(cs) + ManifestBlobChunks - 1) / ManifestBlobChunks
	if len(ends) <= max(2*targetManifestBlobs, 2*fixed) {
		return ends
	}
	ends = ends[:0]
	for end := ManifestBlobChunks; ; end += ManifestBlobChunks {
		if end >= len(cs) {
			return append(ends, len(cs))
		}
		ends = append(ends, end)
	}
}

// DecodeManifest parses one blob, appending its refs to dst.
func DecodeManifest(dst []ChunkRef, b []byte) ([]ChunkRef, error) {
	if len(b) == 0 || b[0] != manifestTag {
		return nil, fmt.Errorf("%w: not a manifest blob", ErrMalformed)
	}
	b = b[1:]
	for len(b) > 0 {
		if len(b) < 33 {
			return nil, fmt.Errorf("%w: truncated manifest", ErrMalformed)
		}
		var c ChunkRef
		copy(c.Hash[:], b)
		n, k := binary.Uvarint(b[32:])
		if k <= 0 || n == 0 || n > MaxChunkLen || c.Hash.IsZero() {
			return nil, fmt.Errorf("%w: manifest entry", ErrMalformed)
		}
		c.Size = uint32(n)
		dst = append(dst, c)
		b = b[32+k:]
	}
	return dst, nil
}
