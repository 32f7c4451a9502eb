package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestValidPath(t *testing.T) {
	good := []string{"a", "a/b", "-leading dash", "sp ace/ünï", strings.Repeat("x", 255), "a\\b", "...", ".hidden"}
	bad := []string{"", "/abs", "a/../b", "..", ".", "a//b", "a/", "a/./b", "nul\x00", strings.Repeat("x", 256), strings.Repeat("a/", 2049) + "a"}
	for _, p := range good {
		if err := ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range bad {
		if err := ValidPath(p); !errors.Is(err, ErrBadPath) {
			t.Errorf("ValidPath(%q) = %v, want ErrBadPath", p, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	data := []byte("hello world")
	recs := []*Record{
		{Epoch: 3, Path: "a/b.txt", Type: File, Mode: 0o644, MTime: 1700000000123456789, Size: int64(len(data)),
			Hash: Sum(data), Chunks: []ChunkRef{{Hash: Sum(data), Size: uint32(len(data))}}, Time: 5},
		{Path: "empty", Type: File, Mode: 0o600, Hash: Sum(nil)},
		{Path: "d", Type: Dir, Mode: 0o755, MTime: 1},
		{Path: "l", Type: Symlink, Target: "../x", MTime: 2},
		{Path: "gone", Type: Deleted},
		{Path: "bad\xffutf8", Type: Symlink, Target: "\xfe"},
		{Path: "small", Type: File, Mode: 0o644, Size: int64(len(data)), Hash: Sum(data), Data: EncodeChunk(nil, data, SmallCompression)},
	}
	for _, r := range recs {
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatalf("encode %q: %v", r.Path, err)
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("decode %q: %v", r.Path, err)
		}
		if got.Path != r.Path || got.Target != r.Target || got.Type != r.Type || got.Hash != r.Hash ||
			got.MTime != r.MTime || got.Mode != r.Mode || got.Size != r.Size || len(got.Chunks) != len(r.Chunks) ||
			!bytes.Equal(got.Data, r.Data) {
			t.Fatalf("round trip of %q: got %+v", r.Path, got)
		}
	}
}

// A version 1 record, with its content base64 in "data", still decodes.
func TestDecodeRecordVersion1(t *testing.T) {
	data := []byte("hello")
	payload := EncodeChunk(nil, data, NoCompression)
	in := `{"v":1,"epoch":2,"path":"small","type":"file","mode":420,"size":5,"hash":"` + Sum(data).String() +
		`","data":"` + base64.StdEncoding.EncodeToString(payload) + `"}` + "\n"
	r, err := DecodeRecord([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != "small" || r.Epoch != 2 || !bytes.Equal(r.Data, payload) {
		t.Fatalf("got %+v", r)
	}
	got, err := DecodeChunk(nil, r.Data, Sum(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content %q, %v", got, err)
	}
}

// Versions 2 to 4 carry inline content raw after the JSON object.
func TestEncodeRecordInlineIsRaw(t *testing.T) {
	data := []byte("raw content")
	b, err := EncodeRecord(&Record{Path: "s", Type: File, Size: int64(len(data)), Hash: Sum(data),
		Data: EncodeChunk(nil, data, NoCompression)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, data) || bytes.Contains(b, []byte(`"data"`)) || !bytes.HasPrefix(b, []byte(`{"v":4,`)) {
		t.Fatalf("encoded %q", b)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	cases := map[string]string{
		"version":     `{"v":5,"path":"a","type":"dir"}`,
		"v2cached":    `{"v":2,"path":"a","type":"file","size":1,"hash":"` + Sum(nil).String() + `","chunks":[{"h":"` + Sum(nil).String() + `","n":1}],"cached":true}`,
		"v2field":     `{"v":2,"path":"a","type":"file","size":1,"hash":"` + Sum(nil).String() + `","data":"AQAB"}`,
		"v2dirdata":   `{"v":2,"path":"a","type":"dir"}` + "\n\x01\x00\x01x",
		"v2empty":     `{"v":2,"path":"a","type":"file","size":1,"hash":"` + Sum(nil).String() + `"}` + "\n",
		"v2size":      `{"v":2,"path":"a","type":"file","size":5,"hash":"` + Sum(nil).String() + `"}` + "\n\x01\x00\x01x",
		"v2json":      `{"v":2,` + "\n" + `"path":"a","type":"dir"}`,
		"v1trailing":  `{"v":1,"path":"a","type":"dir"}` + "\n\x01",
		"traversal":   `{"v":1,"path":"../etc/passwd","type":"deleted"}`,
		"absolute":    `{"v":1,"path":"/etc/passwd","type":"deleted"}`,
		"type":        `{"v":1,"path":"a","type":"fifo"}`,
		"mode":        `{"v":1,"path":"a","type":"dir","mode":65536}`,
		"size":        `{"v":1,"path":"a","type":"file","size":5,"hash":"` + Sum(nil).String() + `"}`,
		"nohash":      `{"v":1,"path":"a","type":"file"}`,
		"trailing":    `{"v":1,"path":"a","type":"dir"} {}`,
		"both":        `{"v":1,"path":"a","path_b64":"YQ==","type":"dir"}`,
		"dirchunks":   `{"v":1,"path":"a","type":"dir","chunks":[{"h":"` + Sum(nil).String() + `","n":1}]}`,
		"emptytarget": `{"v":1,"path":"a","type":"symlink"}`,
		"dirdata":     `{"v":1,"path":"a","type":"dir","data":"AQAA"}`,
		"datasize":    `{"v":1,"path":"a","type":"file","size":5,"hash":"` + Sum(nil).String() + `","data":"AQAA"}`,
		"databad":     `{"v":1,"path":"a","type":"file","size":5,"hash":"` + Sum(nil).String() + `","data":"AA=="}`,
		"datachunks": `{"v":1,"path":"a","type":"file","size":1,"hash":"` + Sum(nil).String() + `","data":"AQAB",` +
			`"chunks":[{"h":"` + Sum(nil).String() + `","n":1}]}`,
		"databig": `{"v":1,"path":"a","type":"file","size":40000,"hash":"` + Sum(nil).String() + `","data":"` +
			base64.StdEncoding.EncodeToString(EncodeChunk(nil, make([]byte, 40000), NoCompression)) + `"}`,
	}
	for name, in := range cases {
		if _, err := DecodeRecord([]byte(in)); err == nil {
			t.Errorf("%s: decoded %s", name, in)
		}
	}
}

func TestChunkCodec(t *testing.T) {
	text := bytes.Repeat([]byte("compressible text "), 4096)
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(i * 7919 >> 3)
	}
	for _, comp := range []Compression{NoCompression, FastCompression, SmallCompression} {
		for _, data := range [][]byte{text, random, []byte("tiny")} {
			p := EncodeChunk(make([]byte, 0, 8), data, comp)
			got, err := DecodeChunk(nil, p, Sum(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%v: chunk round trip: %v", comp, err)
			}
			if got, err = DecodeChunk(make([]byte, 10, 1<<20), p, Sum(data)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%v: chunk round trip into a buffer: %v", comp, err)
			}
		}
	}
	for comp, codec := range map[Compression]byte{FastCompression: CodecS2, SmallCompression: CodecZstd} {
		if p := EncodeChunk(nil, text, comp); len(p) > len(text)/4 || p[1] != codec {
			t.Fatalf("%v: text chunk not compressed: %d bytes, codec %d", comp, len(p), p[1])
		}
		if p := EncodeChunk(nil, random, comp); p[1] != CodecRaw {
			t.Fatalf("%v: random chunk stored with codec %d", comp, p[1])
		}
	}
	// PayloadCap leaves room for any codec.
	for _, comp := range []Compression{NoCompression, FastCompression, SmallCompression} {
		for _, data := range [][]byte{text, random} {
			dst := make([]byte, 0, PayloadCap(len(data)))
			if p := EncodeChunk(dst, data, comp); cap(p) != cap(dst) || &p[0] != &dst[:1][0] {
				t.Fatalf("%v: payload of %d bytes outgrew PayloadCap", comp, len(data))
			}
		}
	}
	// Raw data decodes in place with a nil dst, into dst otherwise.
	raw := EncodeChunk(nil, random, NoCompression)
	if got, _ := DecodeChunk(nil, raw, Sum(random)); &got[0] != &raw[len(raw)-len(random)] {
		t.Fatal("raw payload copied with a nil dst")
	}
	if got, _ := DecodeChunk(make([]byte, 0, len(random)), raw, Sum(random)); &got[0] == &raw[len(raw)-len(random)] {
		t.Fatal("raw payload aliased with a dst")
	}
	// An S2 block whose decoded length differs from the header's.
	p := EncodeChunk(nil, text, FastCompression)
	p[2]++ // uvarint length, first byte
	if _, err := DecodeChunk(nil, p, Sum(text)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("s2 length mismatch: %v, want ErrMalformed", err)
	}
	p = EncodeChunk(nil, text, NoCompression)
	p[len(p)-1] ^= 1
	if _, err := DecodeChunk(nil, p, Sum(text)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped byte: %v, want ErrCorrupt", err)
	}
}

func manifestRefs(n int, seed uint32) []ChunkRef {
	refs := make([]ChunkRef, n)
	for i := range refs {
		refs[i] = ChunkRef{Hash: Sum(binary.LittleEndian.AppendUint32([]byte{byte(seed)}, uint32(i))), Size: uint32(i%1000 + 1)}
	}
	return refs
}

func decodeBlobs(t *testing.T, blobs [][]byte) []ChunkRef {
	t.Helper()
	var got []ChunkRef
	for _, b := range blobs {
		var err error
		if got, err = DecodeManifest(got, b); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func TestManifestRoundTrip(t *testing.T) {
	for _, n := range []int{1, 300, ManifestBlobChunks + 10, 300000} {
		refs := manifestRefs(n, 1)
		blobs := EncodeManifest(refs)
		if got := decodeBlobs(t, blobs); !slices.Equal(got, refs) {
			t.Fatalf("%d refs: round trip differs", n)
		}
		avg := 1 << manifestBits(n)
		for i, b := range blobs {
			if refs := len(decodeBlobs(t, [][]byte{b})); refs > ManifestBlobChunks || (i < len(blobs)-1 && refs < avg/4) {
				t.Fatalf("%d refs: blob %d holds %d refs (average %d)", n, i, refs, avg)
			}
		}
		if n >= 10*avg && (len(blobs) < n/avg/3 || len(blobs) > 3*n/avg) {
			t.Errorf("%d refs: %d blobs, want about %d", n, len(blobs), n/avg)
		}
	}
}

// An edit in the middle of a long chunk list (a chunk replaced, inserted
// or removed) changes only the blob or two around it.
func TestManifestEditChangesFewBlobs(t *testing.T) {
	refs := manifestRefs(4096, 2) // a 256 MiB file
	before := map[string]bool{}
	for _, b := range EncodeManifest(refs) {
		before[string(b)] = true
	}
	edits := map[string][]ChunkRef{
		"replace": slices.Concat(refs[:2000], manifestRefs(3, 3), refs[2003:]),
		"insert":  slices.Concat(refs[:10], manifestRefs(1, 4), refs[10:]),
		"remove":  slices.Concat(refs[:3000], refs[3002:]),
	}
	for name, edited := range edits {
		blobs := EncodeManifest(edited)
		changed := 0
		for _, b := range blobs {
			if !before[string(b)] {
				changed++
			}
		}
		if changed > 2 || len(blobs) < 4 {
			t.Errorf("%s: %d of %d blobs changed", name, changed, len(blobs))
		}
		if got := decodeBlobs(t, blobs); !slices.Equal(got, edited) {
			t.Errorf("%s: round trip differs", name)
		}
	}
}

// One chunk repeated all along (a file of zeros) may meet the cut
// condition at every ref: the blob count must stay bounded anyway.
func TestManifestRepeatedChunk(t *testing.T) {
	var cut ChunkRef
	for i := 0; ; i++ {
		cut = ChunkRef{Hash: Sum([]byte{byte(i), byte(i >> 8), byte(i >> 16)}), Size: 256 << 10}
		if mask := uint32(1)<<manifestBits(1<<20) - 1; binary.LittleEndian.Uint32(cut.Hash[:4])&mask == mask {
			break
		}
	}
	refs := slices.Repeat([]ChunkRef{cut}, 1<<20)
	blobs := EncodeManifest(refs)
	if want := (len(refs) + ManifestBlobChunks - 1) / ManifestBlobChunks; len(blobs) != want {
		t.Errorf("%d blobs, want %d full ones", len(blobs), want)
	}
	if got := decodeBlobs(t, blobs); !slices.Equal(got, refs) {
		t.Error("round trip differs")
	}
}

func TestSubjects(t *testing.T) {
	s := StateSubject("docs", "a b/c.d")
	if strings.ContainsAny(s[len("jetsync.docs.s."):], " .*>") || len(PathKey("x")) != 22 {
		t.Fatalf("bad subject %q", s)
	}
	if ValidFolder("ok_Folder-1") != nil || ValidFolder("a.b") == nil || ValidFolder("") == nil {
		t.Fatal("folder validation")
	}
}

func TestModeBitsRoundTrip(t *testing.T) {
	for _, bits := range []uint32{0, 0o644, 0o755, 0o4755, 0o2750, 0o1777, 0o7777} {
		if got := ModeBits(FileMode(bits)); got != bits {
			t.Errorf("ModeBits(FileMode(%o)) = %o", bits, got)
		}
	}
}

// Large chunks are sampled before a full compression attempt: random data
// is stored raw without one, text and half-text chunks are compressed.
func TestChunkCompressionSampling(t *testing.T) {
	random := testRandom(64<<10, 1)
	text := testText(64<<10, 2)
	if mayCompress(random) {
		t.Error("random 64 KiB: sample says compressible")
	}
	if !mayCompress(text) || !mayCompress(random[:sampleFrom-1]) {
		t.Error("text, or a chunk too small to sample: not tried")
	}
	if p := EncodeChunk(nil, random, SmallCompression); p[1] != CodecRaw {
		t.Error("random chunk compressed")
	}
	if p := EncodeChunk(nil, text, SmallCompression); p[1] != CodecZstd || len(p) > len(text)/2 {
		t.Errorf("text chunk: codec %d, %d bytes", p[1], len(p))
	}
	// Half text, half random: sampled as compressible, and compressed.
	mixed := append(append([]byte{}, text[:32<<10]...), random[32<<10:]...)
	p := EncodeChunk(nil, mixed, SmallCompression)
	if p[1] != CodecZstd {
		t.Error("half-text chunk not compressed")
	}
	if got, err := DecodeChunk(nil, p, Sum(mixed)); err != nil || !bytes.Equal(got, mixed) {
		t.Fatalf("round trip: %v", err)
	}
}

// The folder meta reads versions 1 (releases whose content was in the
// state stream), 2 and 3 (and 4, encrypted: see TestMetaSealed); a newer
// one is a future format, 0 is garbage.
func TestMetaVersions(t *testing.T) {
	for _, v := range []int{1, 2, 3} {
		m, err := DecodeMeta([]byte(fmt.Sprintf(`{"v":%d,"epoch":3}`, v)))
		if err != nil || m.Epoch != 3 {
			t.Errorf("meta version %d: %+v, %v", v, m, err)
		}
	}
	if _, err := DecodeMeta([]byte(`{"v":5,"epoch":3}`)); !errors.Is(err, ErrVersion) {
		t.Errorf("meta version 5: %v, want ErrVersion", err)
	}
	if _, err := DecodeMeta([]byte(`{"epoch":3}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("meta without version: %v, want malformed", err)
	}
	if m, _ := DecodeMeta(EncodeMeta(Meta{})); m.V != 2 {
		t.Errorf("meta without patterns encoded at version %d, want 2", m.V)
	}
}

// An encrypted folder's meta is version 4 and holds only its key id and
// sealed bytes: without them, or with any field in the clear beside them,
// it is malformed.
func TestMetaSealed(t *testing.T) {
	b := EncodeMeta(Meta{KeyID: "0123abcd", Sealed: []byte{0xf5, 1, 2}})
	m, err := DecodeMeta(b)
	if err != nil || m.V != MetaVersionSealed || m.KeyID != "0123abcd" || len(m.Sealed) != 3 {
		t.Fatalf("round trip of %s: %+v, %v", b, m, err)
	}
	for _, bad := range []string{`{"v":4,"epoch":3}`, `{"v":4,"key_id":"ab"}`, `{"v":4,"sealed":"9QEC"}`,
		`{"v":3,"key_id":"ab","sealed":"9QEC"}`, `{"v":4,"key_id":"ab","sealed":"9QEC","epoch":2}`,
		`{"v":4,"key_id":"ab","sealed":"9QEC","exclude":["x"]}`} {
		if _, err := DecodeMeta([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want malformed", bad, err)
		}
	}
}

// Exclusion patterns need version 3: a meta that has them is written at
// version 3, so that replicas that would ignore them stop instead, and an
// older version that carries them is malformed.
func TestMetaExclude(t *testing.T) {
	b := EncodeMeta(Meta{Epoch: 1, Exclude: []string{"*.tmp", "cache/"}})
	m, err := DecodeMeta(b)
	if err != nil || m.V != 3 || len(m.Exclude) != 2 || m.Exclude[1] != "cache/" {
		t.Fatalf("round trip of %s: %+v, %v", b, m, err)
	}
	if !strings.Contains(string(b), `"exclude":["*.tmp","cache/"]`) {
		t.Errorf("encoded as %s", b)
	}
	for _, v := range []int{1, 2} {
		_, err := DecodeMeta([]byte(fmt.Sprintf(`{"v":%d,"epoch":1,"exclude":["x"]}`, v)))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("meta version %d with patterns: %v, want malformed", v, err)
		}
	}
}
