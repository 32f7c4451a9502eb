package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/fsmeta"
)

func xattrBytes(t testing.TB, x fsmeta.Xattrs) []byte {
	t.Helper()
	b, err := fsmeta.EncodeXattrs(x)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecordAttrsRoundTrip(t *testing.T) {
	acl, err := (&fsmeta.ACL{Platform: fsmeta.PlatformFreeBSDNFS4, Entries: []fsmeta.ACE{
		{Tag: fsmeta.TagUser, ID: 1234, Perms: 0x8, Type: fsmeta.TypeAllow}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789")
	cases := []*Record{
		{Path: "f", Type: File, Mode: 0o640, Size: 1 << 20, Hash: Sum(nil), Data: EncodeChunk(nil, data, NoCompression),
			Attrs: Attrs{Owner: &Owner{UID: 1234, GID: 5678, User: "alice", Group: "staff"},
				Xattrs: xattrBytes(t, fsmeta.Xattrs{"user.comment": []byte("hi")}), ACL: acl, Link: "g1",
				Extents: []Extent{{Off: 4096, Len: 6}, {Off: 1 << 19, Len: 4}}}},
		{Path: "hole", Type: File, Size: 1 << 30, Hash: Sum(nil), Attrs: Attrs{Extents: []Extent{}}},
		{Path: "d", Type: Dir, Mode: 0o755, Attrs: Attrs{Owner: &Owner{}}},
		{Path: "p", Type: Fifo, Mode: 0o600},
		{Path: "dev", Type: CharDev, Mode: 0o600, Attrs: Attrs{Rdev: 0x103}},
		{Path: "gone", Type: Deleted, Attrs: Attrs{Excluded: true}},
		{Path: RootPath, Type: Dir, Mode: 0o2775, MTime: 5, Attrs: Attrs{Owner: &Owner{UID: 1}}},
	}
	for _, want := range cases {
		b, err := EncodeRecord(want)
		if err != nil {
			t.Fatalf("%s: %v", want.Path, err)
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", want.Path, b, err)
		}
		if got.V != RecordVersion || !got.HasAttrs() {
			t.Errorf("%s: version %d", want.Path, got.V)
		}
		got.V = 0
		if !reflect.DeepEqual(got.Attrs, want.Attrs) {
			t.Errorf("%s: attrs %+v, want %+v", want.Path, got.Attrs, want.Attrs)
		}
	}
}

// An all-hole file keeps its empty extent list: without it the record
// would announce Size bytes of content and carry none.
func TestRecordAllHolesIsNotDense(t *testing.T) {
	b, err := EncodeRecord(&Record{Path: "hole", Type: File, Size: 1 << 30, Hash: Sum(nil), Attrs: Attrs{Extents: []Extent{}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"extents":[]`)) {
		t.Fatalf("encoded %s", b)
	}
}

func TestRecordAttrsRejected(t *testing.T) {
	h := Sum(nil).String()
	x := base64.StdEncoding.EncodeToString(xattrBytes(t, fsmeta.Xattrs{"user.a": []byte("b")}))
	cases := map[string]string{
		"v3owner":      `{"v":3,"path":"a","type":"dir","owner":{"uid":1,"gid":1}}`,
		"v3fifo":       `{"v":3,"path":"a","type":"fifo"}`,
		"v3excluded":   `{"v":3,"path":"a","type":"deleted","excluded":true}`,
		"ownername":    `{"v":4,"path":"a","type":"dir","owner":{"uid":1,"gid":1,"user":"a:b"}}`,
		"ownerlong":    `{"v":4,"path":"a","type":"dir","owner":{"uid":1,"gid":1,"user":"` + strings.Repeat("u", 300) + `"}}`,
		"xattrsjunk":   `{"v":4,"path":"a","type":"dir","xattrs":"AAAA"}`,
		"xattrsempty":  `{"v":4,"path":"a","type":"dir","xattrs":"AA=="}`,
		"acljunk":      `{"v":4,"path":"a","type":"dir","acl":"AQ=="}`,
		"tombattrs":    `{"v":4,"path":"a","type":"deleted","xattrs":"` + x + `"}`,
		"tombowner":    `{"v":4,"path":"a","type":"deleted","owner":{"uid":1,"gid":1}}`,
		"excludeddir":  `{"v":4,"path":"a","type":"dir","excluded":true}`,
		"linkdir":      `{"v":4,"path":"a","type":"dir","link":"x"}`,
		"linklong":     `{"v":4,"path":"a","type":"file","size":0,"hash":"` + h + `","link":"` + strings.Repeat("l", 65) + `"}`,
		"rdevfile":     `{"v":4,"path":"a","type":"file","size":0,"hash":"` + h + `","rdev":3}`,
		"extentsdir":   `{"v":4,"path":"a","type":"dir","extents":[]}`,
		"extentorder":  `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[50,1],[10,1]]}`,
		"extenttouch":  `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[0,10],[10,1]]}`,
		"extentempty":  `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[0,0]]}`,
		"extentpast":   `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[99,2]]}`,
		"extentneg":    `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[-1,2]]}`,
		"extenthuge":   `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[1,9223372036854775807]]}`,
		"extentdata":   `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[0,2]],"chunks":[{"h":"` + h + `","n":3}]}`,
		"extentnodata": `{"v":4,"path":"a","type":"file","size":100,"hash":"` + h + `","extents":[[0,2]]}`,
		"fifochunks":   `{"v":4,"path":"a","type":"fifo","chunks":[{"h":"` + h + `","n":1}]}`,
		"fifotarget":   `{"v":4,"path":"a","type":"fifo","target":"x"}`,
		"socket":       `{"v":4,"path":"a","type":"socket"}`,
		"rootfile":     `{"v":4,"path":"","type":"file","size":0,"hash":"` + h + `"}`,
		"roottomb":     `{"v":4,"path":"","type":"deleted"}`,
		"rootv3":       `{"v":3,"path":"","type":"dir"}`,
	}
	for name, in := range cases {
		_, err := DecodeRecord([]byte(in))
		if err == nil {
			t.Errorf("%s: decoded %s", name, in)
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadPath) {
			t.Errorf("%s: %v, want malformed or a bad path", name, err)
		}
	}
}

// The bound on attributes keeps the largest record well under
// MaxRecordLen once base64 encoded.
func TestRecordAttrsBound(t *testing.T) {
	big := fsmeta.Xattrs{"user.a": make([]byte, 64<<10), "user.b": make([]byte, 63<<10)}
	r := &Record{Path: strings.Repeat("p/", 2000) + "f", Type: File, Size: 0, Hash: Sum(nil),
		Attrs: Attrs{Xattrs: xattrBytes(t, big), Owner: &Owner{User: strings.Repeat("u", MaxOwnerName), Group: strings.Repeat("g", MaxOwnerName)}}}
	b, err := EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeRecord(b); err != nil {
		t.Fatalf("%d bytes: %v", len(b), err)
	}
	big["user.c"] = make([]byte, 2<<10)
	r.Xattrs = xattrBytes(t, big)
	if _, err := EncodeRecord(r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("attributes over the bound: %v", err)
	}
}

func TestAttrsDigest(t *testing.T) {
	base := Record{Path: "a", Type: Dir, Attrs: Attrs{Owner: &Owner{UID: 1, GID: 2, User: "a", Group: "b"}}}
	old := base
	old.V = 3
	old.Owner = nil
	if old.AttrsDigest() != (Hash{}) {
		t.Error("an older record has a digest")
	}
	seen := map[Hash]string{base.AttrsDigest(): "base"}
	variants := map[string]func(r *Record){
		"uid":    func(r *Record) { r.Owner = &Owner{UID: 9, GID: 2, User: "a", Group: "b"} },
		"user":   func(r *Record) { r.Owner = &Owner{UID: 1, GID: 2, User: "ab", Group: ""} },
		"none":   func(r *Record) { r.Owner = nil },
		"xattrs": func(r *Record) { r.Xattrs = xattrBytes(t, fsmeta.Xattrs{"user.a": []byte("b")}) },
		"acl":    func(r *Record) { r.ACL = []byte{1} },
		"link":   func(r *Record) { r.Link = "x" },
		"rdev":   func(r *Record) { r.Rdev = 1 },
	}
	for name, change := range variants {
		r := base
		change(&r)
		d := r.AttrsDigest()
		if other, ok := seen[d]; ok {
			t.Errorf("%s digests as %s", name, other)
		}
		seen[d] = name
	}
}
