package wire

import (
	"errors"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrBadPath) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if ValidPath(r.Path) != nil {
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
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := DecodeManifest(nil, b)
		if err != nil {
			return
		}
		for _, r := range refs {
			if r.Size == 0 || r.Size > MaxChunkLen {
				t.Fatalf("bad ref %+v", r)
			}
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
		want.V = MetaVersion
		if err != nil || again != want {
			t.Fatalf("round trip: %+v -> %+v, %v", m, again, err)
		}
	})
}
