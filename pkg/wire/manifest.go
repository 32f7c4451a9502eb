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

// EncodeManifest splits a chunk list into blobs.
func EncodeManifest(cs []ChunkRef) [][]byte {
	var blobs [][]byte
	for len(cs) > 0 {
		n := min(len(cs), ManifestBlobChunks)
		b := make([]byte, 0, 1+n*(32+3))
		b = append(b, manifestTag)
		for _, c := range cs[:n] {
			b = append(b, c.Hash[:]...)
			b = binary.AppendUvarint(b, uint64(c.Size))
		}
		blobs = append(blobs, b)
		cs = cs[n:]
	}
	return blobs
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
