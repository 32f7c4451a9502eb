package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// MaxChunkLen bounds the decoded size of one chunk or manifest blob.
const MaxChunkLen = 1 << 20

// Chunk payload codecs.
const (
	CodecRaw  byte = 0
	CodecZstd byte = 1
	CodecS2   byte = 2
)

// Compression says how EncodeChunk may compress.
type Compression uint8

const (
	// NoCompression stores content as it is.
	NoCompression Compression = iota
	// FastCompression uses S2: about 1.3 GB/s per core to compress and
	// 2.5 GB/s to decode on text, for a smaller saving than zstd.
	FastCompression
	// SmallCompression uses zstd at its fastest level: about half the
	// speed of S2 to compress and a third to decode, for a better ratio
	// (links slower than the CPU).
	SmallCompression
)

// ParseCompression maps the command line's names (off, s2, zstd) to a
// Compression.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "off", "none":
		return NoCompression, nil
	case "s2", "fast":
		return FastCompression, nil
	case "zstd", "small":
		return SmallCompression, nil
	}
	return 0, fmt.Errorf("compression %q: want off, s2 or zstd", s)
}

func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "off"
	case FastCompression:
		return "s2"
	case SmallCompression:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// A chunk payload is: version byte, codec byte, uvarint decoded length,
// then the data (raw, one zstd frame, or one S2 block). The subject
// carries the hash of the decoded data, which DecodeChunk verifies.
const chunkHeaderMax = 2 + binary.MaxVarintLen32

var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(MaxChunkLen), zstd.WithDecoderMaxWindow(MaxChunkLen))
)

// Compression sampling: a chunk of at least sampleFrom bytes is tried
// only if the byte entropy of samplePieces pieces of samplePiece bytes,
// spread over it, is under sampleMaxEntropy bits per byte. Random data
// (media, archives, encrypted files) measures 7.9 or more and is stored
// raw without a compression attempt; text measures 4-6.
const (
	sampleFrom       = 16 << 10
	samplePieces     = 4
	samplePiece      = 1 << 10
	sampleMaxEntropy = 7.5
)

// PayloadCap is a capacity of EncodeChunk's dst that holds the payload of
// any data of up to n bytes, compressed or not, without growing.
func PayloadCap(n int) int {
	return chunkHeaderMax + max(s2.MaxEncodedLen(n), n+n/64+1024) // zstd's bound is n + n/256 + a little
}

// EncodeChunk returns the payload for data, compressed as c says when
// that saves at least an eighth. The result is appended to dst[:0].
func EncodeChunk(dst, data []byte, c Compression) []byte {
	dst = append(dst[:0], Version, CodecRaw)
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	if c != NoCompression && len(data) >= 512 && mayCompress(data) {
		hdr := len(dst)
		var out []byte
		codec := CodecZstd
		if c == FastCompression {
			codec = CodecS2
			dst = slices.Grow(dst, s2.MaxEncodedLen(len(data)))
			out = dst[:hdr+len(s2.Encode(dst[hdr:cap(dst)], data))]
		} else {
			out = encoder.EncodeAll(data, dst)
		}
		if len(out)-hdr < len(data)-len(data)/8 {
			out[1] = codec
			return out
		}
		dst = out[:hdr]
	}
	return append(dst, data...)
}

// mayCompress reports whether data is worth a full compression attempt:
// small data always is; larger data if a sample of it is not close to
// random (order-0 entropy; repeats the histogram cannot see are missed).
func mayCompress(data []byte) bool {
	if len(data) < sampleFrom {
		return true
	}
	var hist [256]int
	step := (len(data) - samplePiece) / (samplePieces - 1)
	for i := range samplePieces {
		for _, b := range data[i*step : i*step+samplePiece] {
			hist[b]++
		}
	}
	const total = samplePieces * samplePiece
	bits := 0.0
	for _, n := range hist {
		if n > 0 {
			p := float64(n) / total
			bits -= p * math.Log2(p)
		}
	}
	return bits < sampleMaxEntropy
}

// DecodeChunk decodes a chunk payload and verifies it against want.
// dst is reused for the result when it has room. With a nil dst, the data
// of a raw payload is returned in place: it aliases payload.
func DecodeChunk(dst, payload []byte, want Hash) ([]byte, error) {
	data, err := decodeChunk(dst, payload)
	if err != nil {
		return nil, err
	}
	if Sum(data) != want {
		return nil, fmt.Errorf("%w: chunk %s does not match its hash", ErrCorrupt, want)
	}
	return data, nil
}

// DecodeChunkUnverified decodes a chunk payload whose content has no hash
// of its own: the inline data of a sparse file, which the whole file's
// hash covers once its holes are put back. The caller must verify that.
func DecodeChunkUnverified(dst, payload []byte) ([]byte, error) {
	return decodeChunk(dst, payload)
}

// ChunkLen returns the decoded length a chunk payload announces, checking
// only its header.
func ChunkLen(p []byte) (int, error) {
	if len(p) < 3 {
		return 0, fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, len(p))
	}
	if p[0] != Version {
		return 0, fmt.Errorf("%w: chunk version %d", ErrVersion, p[0])
	}
	n, k := binary.Uvarint(p[2:])
	if k <= 0 || n > MaxChunkLen {
		return 0, fmt.Errorf("%w: chunk length", ErrMalformed)
	}
	return int(n), nil
}

func decodeChunk(dst, p []byte) ([]byte, error) {
	if len(p) < 3 {
		return nil, fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, len(p))
	}
	if p[0] != Version {
		return nil, fmt.Errorf("%w: chunk version %d", ErrVersion, p[0])
	}
	n, k := binary.Uvarint(p[2:])
	if k <= 0 || n > MaxChunkLen {
		return nil, fmt.Errorf("%w: chunk length", ErrMalformed)
	}
	body := p[2+k:]
	switch p[1] {
	case CodecRaw:
		if uint64(len(body)) != n {
			return nil, fmt.Errorf("%w: chunk body %d bytes, header says %d", ErrMalformed, len(body), n)
		}
		if dst == nil {
			return body, nil
		}
		return append(dst[:0], body...), nil
	case CodecZstd:
		out, err := decoder.DecodeAll(body, dst[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrMalformed, err)
		}
		if uint64(len(out)) != n {
			return nil, fmt.Errorf("%w: chunk decoded to %d bytes, header says %d", ErrMalformed, len(out), n)
		}
		return out, nil
	case CodecS2:
		if m, err := s2.DecodedLen(body); err != nil || uint64(m) != n {
			return nil, fmt.Errorf("%w: s2 block of %d bytes, header says %d (%v)", ErrMalformed, m, n, err)
		}
		out, err := s2.Decode(dst[:cap(dst)], body)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %v", ErrMalformed, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: chunk codec %d", ErrMalformed, p[1])
	}
}
