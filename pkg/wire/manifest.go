package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt marks content that does not match its hash.
var ErrCorrupt = errors.New("content does not match hash")

// A manifest blob holds part of a long chunk list: the byte 'M', then per
// chunk its 32-byte hash and uvarint size. Blobs are stored like chunks,
// under their own hash.
const manifestTag = 'M'

// ManifestBlobChunks is how many chunk refs one blob holds at most.
const ManifestBlobChunks = 16384

// Bounds of a manifest, which a record's validation checks before a
// replica fetches any of it (see Record.Validate).
const (
	// MinChunkLen is the shortest chunk a file's list holds but for its
	// last: the source's chunker never cuts one shorter (chunk.MinSize is
	// at least this). It bounds how many chunks a file of a given size
	// has, and so how much manifest its record can make a replica fetch.
	MinChunkLen = 16 << 10
	// maxSizeLen is the longest uvarint of a chunk size: MaxChunkLen
	// (2^20) takes 21 bits.
	maxSizeLen = 3
	// maxRefLen is the most bytes one ref takes in a blob.
	maxRefLen = 32 + maxSizeLen
	// MaxManifestBlobLen is the longest blob EncodeManifest writes:
	// ManifestBlobChunks refs of the longest encoding.
	MaxManifestBlobLen = 1 + ManifestBlobChunks*maxRefLen
	// minManifestBlobLen is the shortest: one ref of a size under 128.
	minManifestBlobLen = 1 + 32 + 1
)

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
		blobs = append(blobs, encodeBlob(cs[start:end]))
		start = end
	}
	return blobs
}

// encodeBlob writes one blob holding refs.
func encodeBlob(refs []ChunkRef) []byte {
	b := make([]byte, 0, 1+len(refs)*maxRefLen)
	b = append(b, manifestTag)
	for _, c := range refs {
		b = append(b, c.Hash[:]...)
		b = binary.AppendUvarint(b, uint64(c.Size))
	}
	return b
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

// DecodeManifest parses one blob, appending its refs to dst. A blob
// longer than MaxManifestBlobLen, holding no ref or more than
// ManifestBlobChunks, or with a size not in its shortest encoding is
// malformed: nothing EncodeManifest writes. The whole blob is checked
// before anything is appended, so a hostile one costs no allocation.
func DecodeManifest(dst []ChunkRef, b []byte) ([]ChunkRef, error) {
	n, err := countManifest(b)
	if err != nil {
		return nil, err
	}
	dst = slices.Grow(dst, n)
	for b = b[1:]; len(b) > 0; {
		var c ChunkRef
		copy(c.Hash[:], b)
		size, k := binary.Uvarint(b[32:])
		c.Size = uint32(size)
		dst = append(dst, c)
		b = b[32+k:]
	}
	return dst, nil
}

// countManifest checks blob b and returns how many refs it holds.
func countManifest(b []byte) (int, error) {
	switch {
	case len(b) == 0 || b[0] != manifestTag:
		return 0, fmt.Errorf("%w: not a manifest blob", ErrMalformed)
	case len(b) > MaxManifestBlobLen:
		return 0, fmt.Errorf("%w: manifest blob of %d bytes", ErrMalformed, len(b))
	case len(b) < minManifestBlobLen:
		return 0, fmt.Errorf("%w: empty manifest blob", ErrMalformed)
	}
	n := 0
	for b = b[1:]; len(b) > 0; n++ {
		if n == ManifestBlobChunks {
			return 0, fmt.Errorf("%w: manifest blob of more than %d refs", ErrMalformed, ManifestBlobChunks)
		}
		if len(b) < 33 {
			return 0, fmt.Errorf("%w: truncated manifest", ErrMalformed)
		}
		size, k := binary.Uvarint(b[32:])
		if k <= 0 || size == 0 || size > MaxChunkLen || k != uvarintLen(size) || Hash(b[:32]).IsZero() {
			return 0, fmt.Errorf("%w: manifest entry", ErrMalformed)
		}
		b = b[32+k:]
	}
	return n, nil
}

// uvarintLen is the length of the shortest uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// maxChunks is the most chunks a file of size bytes can have: each but
// the last holds at least MinChunkLen bytes.
func maxChunks(size int64) int64 { return (size + MinChunkLen - 1) / MinChunkLen }

// checkManifest bounds what r's manifest can make a replica fetch and
// hold before it fetches any of it: no blob longer than EncodeManifest
// writes one, and no more blobs, nor blob bytes, than a list of chunks
// adding up to r.Size can need (a tag per blob, at most maxRefLen bytes
// per chunk). Whether the blobs' chunks add up to r.Size is for the
// reader to check as it reads them.
func (r *Record) checkManifest() error {
	refs := maxChunks(r.Size)
	if int64(len(r.Manifest)) > refs {
		return fmt.Errorf("%w: %d manifest blobs for a file of %d bytes", ErrMalformed, len(r.Manifest), r.Size)
	}
	var total int64
	for _, m := range r.Manifest {
		if m.Size < minManifestBlobLen || m.Size > MaxManifestBlobLen || m.Hash.IsZero() {
			return fmt.Errorf("%w: manifest blob of %d bytes", ErrMalformed, m.Size)
		}
		total += int64(m.Size)
	}
	if limit := int64(len(r.Manifest)) + refs*maxRefLen; total > limit {
		return fmt.Errorf("%w: manifest blobs of %d bytes for a file of %d bytes (at most %d)",
			ErrMalformed, total, r.Size, limit)
	}
	return nil
}
