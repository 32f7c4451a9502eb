package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestContentRequestRoundTrip(t *testing.T) {
	in := ContentRequest{Kind: ContentManifest, Path: "dir/ä\xff", Limit: 1 << 20,
		Hashes: []Hash{Sum([]byte("a")), Sum([]byte("b"))}}
	b, err := EncodeContentRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeContentRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Kind != in.Kind || out.Path != in.Path || out.Limit != in.Limit || len(out.Hashes) != 2 || out.Hashes[1] != in.Hashes[1] {
		t.Fatalf("round trip: %+v", out)
	}
}

func TestContentRequestRejects(t *testing.T) {
	h := Sum(nil)
	good := ContentRequest{Kind: ContentChunks, Path: "a", Limit: MinContentReply, Hashes: []Hash{h}}
	if _, err := EncodeContentRequest(good); err != nil {
		t.Fatal(err)
	}
	bad := map[string]ContentRequest{
		"traversal": {Kind: ContentChunks, Path: "../etc/passwd", Limit: MinContentReply, Hashes: []Hash{h}},
		"absolute":  {Kind: ContentChunks, Path: "/etc/passwd", Limit: MinContentReply, Hashes: []Hash{h}},
		"kind":      {Kind: 9, Path: "a", Limit: MinContentReply, Hashes: []Hash{h}},
		"none":      {Kind: ContentChunks, Path: "a", Limit: MinContentReply},
		"many":      {Kind: ContentChunks, Path: "a", Limit: MinContentReply, Hashes: make([]Hash, MaxContentHashes+1)},
		"limit":     {Kind: ContentChunks, Path: "a", Limit: 10, Hashes: []Hash{h}},
	}
	for name, r := range bad {
		if _, err := EncodeContentRequest(r); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	enc, _ := EncodeContentRequest(good)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, enc[1:]...),
		"truncated": enc[:len(enc)-1],
		"trailing":  append(bytes.Clone(enc), 0),
		"hugecount": {ContentVersion, ContentChunks, 1, 'a', 0x80, 0x80, 0x40, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := DecodeContentRequest(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestContentReply(t *testing.T) {
	p := EncodeChunk(nil, []byte("hello"), NoCompression)
	b := AppendContentReplyHeader(nil, 3)
	b = AppendContentItem(b, ContentOK, p)
	b = AppendContentItem(b, ContentGone, nil)
	b = AppendContentItem(b, ContentLater, nil)
	items, err := DecodeContentReply(b, 3)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Status != ContentOK || !bytes.Equal(items[0].Payload, p) || items[1].Status != ContentGone || items[2].Status != ContentLater {
		t.Fatalf("items: %+v", items)
	}
	if _, err := DecodeContentReply(b, 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("count mismatch: %v", err)
	}
	if _, err := DecodeContentReply(b[:len(b)-3], 3); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	huge := AppendContentReplyHeader(nil, 1)
	huge = append(huge, ContentOK, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if _, err := DecodeContentReply(huge, 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("declared 4 GiB payload: %v", err)
	}
}

// A record's version is only a future format to wait for when it is above
// the newest this build knows; 0, absent or negative is garbage.
func TestRecordVersionZeroIsMalformed(t *testing.T) {
	for _, in := range []string{`null`, `{}`, `{"v":0,"path":"a","type":"dir"}`, `{"v":-1,"path":"a","type":"dir"}`} {
		_, err := DecodeRecord([]byte(in))
		if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrVersion) {
			t.Errorf("%s: %v, want malformed", in, err)
		}
	}
	if _, err := DecodeRecord([]byte(`{"v":5,"path":"a","type":"dir"}`)); !errors.Is(err, ErrVersion) {
		t.Errorf("v5: %v, want ErrVersion", err)
	}
}

func TestRecordCachedRoundTrip(t *testing.T) {
	r := &Record{Path: "f", Type: File, Size: 1, Hash: Sum([]byte{1}), Chunks: []ChunkRef{{Hash: Sum([]byte{1}), Size: 1}}, Cached: true}
	b, err := EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cached || got.V != RecordVersion {
		t.Fatalf("decoded %+v", got)
	}
}

func FuzzDecodeContentRequest(f *testing.F) {
	enc, _ := EncodeContentRequest(ContentRequest{Kind: ContentChunks, Path: "a/b", Limit: MinContentReply, Hashes: []Hash{Sum(nil)}})
	f.Add(enc)
	f.Add([]byte{ContentVersion, ContentManifest, 2, '.', '.', 0x80, 0x80, 0x40, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeContentRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrBadPath) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if ValidPath(r.Path) != nil || len(r.Hashes) == 0 || len(r.Hashes) > MaxContentHashes {
			t.Fatalf("decoder let through %+v", r)
		}
	})
}

func FuzzDecodeContentReply(f *testing.F) {
	b := AppendContentReplyHeader(nil, 2)
	b = AppendContentItem(b, ContentOK, EncodeChunk(nil, []byte("x"), NoCompression))
	f.Add(AppendContentItem(b, ContentGone, nil), 2)
	f.Fuzz(func(t *testing.T, b []byte, want int) {
		items, err := DecodeContentReply(b, want)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(items) != want {
			t.Fatalf("%d items for %d", len(items), want)
		}
	})
}
