package wire

import (
	"bytes"
	"fmt"
	"testing"
)

// Chunk benchmark inputs: random data (incompressible, so EncodeChunk tries
// zstd and throws the result away) and text-like data (compressible).
var benchChunkSizes = []int{64 << 10, 256 << 10}

type benchChunk struct {
	name string
	data []byte
}

func benchChunks() []benchChunk {
	var out []benchChunk
	for _, kind := range []string{"random", "text"} {
		for _, n := range benchChunkSizes {
			data := testRandom(n, uint64(n))
			if kind == "text" {
				data = testText(n, uint64(n))
			}
			out = append(out, benchChunk{fmt.Sprintf("%s-%dKiB", kind, n>>10), data})
		}
	}
	return out
}

// BenchmarkEncodeChunk measures what a source pays per chunk: "try-zstd"
// is the production call (compress, keep the result if it saves an
// eighth); "raw" is the copy alone, so the difference is the cost of the
// compression decision. dst is nil as in the source, which allocates a
// payload per chunk.
func BenchmarkEncodeChunk(b *testing.B) {
	for _, c := range benchChunks() {
		for _, comp := range []Compression{NoCompression, FastCompression, SmallCompression} {
			b.Run(c.name+"/"+comp.String(), func(b *testing.B) {
				b.SetBytes(int64(len(c.data)))
				b.ReportAllocs()
				var out []byte
				for b.Loop() {
					out = EncodeChunk(nil, c.data, comp)
				}
				b.ReportMetric(float64(len(out))/float64(len(c.data)), "ratio")
			})
		}
	}
}

// BenchmarkDecodeChunk decodes and verifies (BLAKE3) a payload as a
// replica does; random chunks are stored raw, text chunks compressed.
func BenchmarkDecodeChunk(b *testing.B) {
	for _, c := range benchChunks() {
		for _, comp := range []Compression{FastCompression, SmallCompression} {
			payload := EncodeChunk(nil, c.data, comp)
			codec := map[byte]string{CodecRaw: "raw", CodecZstd: "zstd", CodecS2: "s2"}[payload[1]]
			h := Sum(c.data)
			b.Run(c.name+"/"+comp.String()+"-stored-"+codec, func(b *testing.B) {
				b.SetBytes(int64(len(c.data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := DecodeChunk(nil, payload, h); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchRecord is a typical small-file record: a few chunk refs.
func benchRecord() *Record {
	r := &Record{Epoch: 3, Path: "projects/website/assets/images/photo-0042.jpg", Type: File, Mode: 0o644,
		MTime: 1700000000123456789, Time: 1700000001987654321}
	for i := range 4 {
		data := testRandom(100, uint64(i))
		n := uint32(48<<10 + i*4096)
		r.Chunks = append(r.Chunks, ChunkRef{Hash: Sum(data), Size: n})
		r.Size += int64(n)
	}
	r.Hash = Sum([]byte(r.Path))
	return r
}

func BenchmarkEncodeRecord(b *testing.B) {
	rec := benchRecord()
	enc, err := EncodeRecord(rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("file-4-chunks", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeRecord(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	inline := inlineRecord()
	b.Run("inline-16KiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeRecord(inline); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// inlineRecord is a small file carried in its record: 16 KiB of text.
func inlineRecord() *Record {
	data := bytes.Repeat([]byte("sixteen bytes.\n "), 1024)
	return &Record{Epoch: 3, Path: "projects/website/assets/notes-0042.txt", Type: File, Mode: 0o644,
		MTime: 1700000000123456789, Time: 1700000001987654321, Size: int64(len(data)), Hash: Sum(data),
		Data: EncodeChunk(nil, data, NoCompression)}
}

func BenchmarkDecodeRecord(b *testing.B) {
	for _, c := range []struct {
		name string
		rec  *Record
	}{{"file-4-chunks", benchRecord()}, {"inline-16KiB", inlineRecord()}} {
		enc, err := EncodeRecord(c.rec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeRecord(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
