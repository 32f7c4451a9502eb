//go:build linux

package hostile

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/treegen"
)

// payload builds a chunk payload as the protocol lays it out, whatever
// its parts say: version, codec, uvarint decoded length, body.
func payload(codec byte, declared uint64, body []byte) []byte {
	b := binary.AppendUvarint([]byte{wire.Version, codec}, declared)
	return append(b, body...)
}

// zstdZeros returns a zstd frame that decodes to n zero bytes, made of
// RLE blocks of 128 KiB (4 bytes each): 1 GiB takes 32 KiB. With fcs the
// frame declares n as its content size; without, it declares nothing and
// asks for a window of 1 MiB, so a decoder learns the size only by
// decoding.
func zstdZeros(n uint64, fcs bool) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd} // magic number, little-endian
	if fcs {
		// Frame header descriptor: a 4-byte content size, single segment
		// (the window is the content size).
		b = append(b, 0b1010_0000)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	} else {
		// No content size; window descriptor: exponent 10, a window of
		// 2^(10+10) bytes.
		b = append(b, 0, 10<<3)
	}
	const maxBlock = 128 << 10
	for n > 0 {
		size := min(n, maxBlock)
		n -= size
		hdr := uint32(size)<<3 | 1<<1 // block type 1: RLE, the next byte repeated size times
		if n == 0 {
			hdr |= 1 // last block
		}
		b = append(b, byte(hdr), byte(hdr>>8), byte(hdr>>16), 0)
	}
	return b
}

// manifestBlob returns a manifest blob of refs entries, each chunk of
// size bytes (under 128, so that its uvarint takes one byte) with a hash
// of its own: the byte 'M', then per entry 32 bytes of hash and the size.
func manifestBlob(refs int, size byte) []byte {
	hashes := treegen.Random(refs*32, 1700)
	b := make([]byte, 0, 1+refs*33)
	b = append(b, 'M')
	for i := range refs {
		h := hashes[i*32 : i*32+32]
		h[0] |= 1 // never the zero hash
		b = append(append(b, h...), size)
	}
	return b
}

// TestZstdZeros checks the bomb builder on a small size: both frames
// decode, with a decoder without limits, to exactly the zeros asked for.
func TestZstdZeros(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	const n = 300<<10 + 5
	for _, fcs := range []bool{true, false} {
		out, err := dec.DecodeAll(zstdZeros(n, fcs), nil)
		if err != nil {
			t.Fatalf("fcs %v: %v", fcs, err)
		}
		if len(out) != n || !bytes.Equal(out, make([]byte, n)) {
			t.Errorf("fcs %v: decoded %d bytes, want %d zeros", fcs, len(out), n)
		}
	}
}

// TestManifestBlob checks the manifest bomb builder: the blob fits a
// chunk and holds the entries asked for, each a 32-byte hash and a
// one-byte size after the tag.
func TestManifestBlob(t *testing.T) {
	blob := manifestBlob(31000, 100)
	if len(blob) > wire.MaxChunkLen {
		t.Fatalf("blob of %d bytes, above a chunk's %d", len(blob), wire.MaxChunkLen)
	}
	if len(blob) != 1+31000*33 || blob[0] != 'M' || blob[33] != 100 || blob[len(blob)-1] != 100 {
		t.Fatalf("blob of %d bytes, tag %q", len(blob), blob[0])
	}
}
