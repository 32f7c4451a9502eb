package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"path":"a/b","type":"file","size":0,"hash":"` + Sum(nil).String() + `"}`))
	f.Add([]byte(`{"v":1,"path":"../x","type":"deleted"}`))
	f.Add([]byte(`{"v":1,"path_b64":"Li4v","type":"dir"}`))
	f.Add([]byte(`{"v":1,"path":"s","type":"file","size":1,"hash":"` + Sum([]byte{0}).String() + `","data":"AQABAA=="}`))
	f.Add([]byte(`{"v":2,"path":"s","type":"file","size":1,"hash":"` + Sum([]byte{0}).String() + "\"}\n\x01\x00\x01\x00"))
	f.Add([]byte(`{"v":2,"path":"d","type":"dir"}` + "\n"))
	f.Add([]byte(`{"v":4,"path":"d","type":"dir","owner":{"uid":1,"gid":2,"user":"a","group":"b"},"xattrs":"AQEGdXNlci5hAWI="}`))
	f.Add([]byte(`{"v":4,"path":"h","type":"file","size":100,"hash":"` + Sum(nil).String() + `","extents":[[0,1],[50,1]],"link":"g"}` + "\n\x01\x00\x02ab"))
	f.Add([]byte(`{"v":4,"path":"c","type":"chardev","rdev":259}`))
	f.Add([]byte(`{"v":4,"path":"","type":"dir","mode":1023}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrBadPath) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if ValidPath(r.Path) != nil && (r.Path != RootPath || r.Type != Dir) {
			t.Fatalf("decoder let through path %q", r.Path)
		}
		if _, err := EncodeRecord(r); err != nil {
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(EncodeChunk(nil, []byte(strings.Repeat("ab", 600)), SmallCompression))
	f.Add(EncodeChunk(nil, []byte("raw"), NoCompression))
	f.Add(EncodeChunk(nil, []byte(strings.Repeat("cd", 600)), FastCompression))
	f.Fuzz(func(t *testing.T, p []byte) {
		data, err := decodeChunk(nil, p)
		if err == nil && len(data) > MaxChunkLen {
			t.Fatalf("decoded %d bytes", len(data))
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add(EncodeManifest([]ChunkRef{{Hash: Sum([]byte("x")), Size: 5}})[0])
	f.Add(blobOf(3, MaxChunkLen))
	f.Add(blobOf(2, 300)[:50])
	f.Add([]byte{manifestTag})
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := DecodeManifest(nil, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(refs) == 0 || len(refs) > ManifestBlobChunks || len(b) > MaxManifestBlobLen {
			t.Fatalf("%d bytes, %d refs accepted", len(b), len(refs))
		}
		for _, r := range refs {
			if r.Size == 0 || r.Size > MaxChunkLen {
				t.Fatalf("bad ref %+v", r)
			}
		}
		// What is accepted is exactly what the encoder writes.
		if !bytes.Equal(encodeBlob(refs), b) {
			t.Fatal("accepted blob does not re-encode to itself")
		}
	})
}

// FuzzManifestBounds: the record of any list of chunks a source can cut
// (sizes from the input, every one but the last at least MinChunkLen,
// repeated to make long lists) passes the manifest bounds, and a record
// that passes them cannot make a replica fetch more blob bytes than its
// size allows.
func FuzzManifestBounds(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, uint16(1), uint16(7))
	f.Add([]byte{255, 255, 1, 2, 3, 4}, uint16(5000), uint16(0))
	f.Add([]byte{9}, uint16(40000), uint16(1))
	f.Fuzz(func(t *testing.T, sizes []byte, repeat, last uint16) {
		if len(sizes) == 0 || len(sizes)*int(repeat) > 1<<20 {
			return
		}
		span := uint32(MaxChunkLen - MinChunkLen)
		var refs []ChunkRef
		for i := range int(repeat) * len(sizes) {
			s := MinChunkLen + uint32(sizes[i%len(sizes)])*span/255
			refs = append(refs, ChunkRef{Hash: Sum([]byte{sizes[i%len(sizes)], byte(i)}), Size: s})
		}
		if last > 0 {
			refs = append(refs, ChunkRef{Hash: Sum([]byte("last")), Size: uint32(last)})
		}
		if len(refs) == 0 {
			return
		}
		rec := manifestRecord(refs)
		if err := rec.Validate(); err != nil {
			t.Fatalf("%d refs in %d blobs: %v", len(refs), len(rec.Manifest), err)
		}
		blobBytes := sumSizes(rec.Manifest)
		if blobBytes > int64(len(rec.Manifest))+maxChunks(rec.Size)*maxRefLen {
			t.Fatalf("%d blob bytes for %d bytes of file", blobBytes, rec.Size)
		}
	})
}

func FuzzValidPath(f *testing.F) {
	for _, s := range []string{"a/b", "../a", "a/./b", "/x", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidPath(p) != nil {
			return
		}
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
				t.Fatalf("accepted %q", p)
			}
		}
		if strings.HasPrefix(p, "/") {
			t.Fatalf("accepted absolute %q", p)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(EncodeMeta(Meta{Epoch: 3, Source: "src-1", Time: 1700000000000000000, TombstoneTTL: 86400e9, Partial: true}))
	f.Add(EncodeMeta(Meta{}))
	f.Add([]byte(`{"v":99,"epoch":1}`))
	f.Add([]byte(`{"v":1,"epoch":-1}`))
	f.Add(EncodeMeta(Meta{Epoch: 2, Exclude: []string{"*.tmp", "cache/"}}))
	f.Add([]byte(`{"v":2,"epoch":1,"exclude":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		// Encoding writes the current version, whatever was read.
		again, err := DecodeMeta(EncodeMeta(m))
		want := m
		want.V = m.Version()
		if len(want.Exclude) == 0 {
			want.Exclude = nil // omitted when empty
		}
		if err != nil || !reflect.DeepEqual(again, want) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, again, err)
		}
	})
}
