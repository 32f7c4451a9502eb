package verify

import (
	"bytes"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// FuzzDecodeWant feeds verify's on-disk index decoder arbitrary bytes: it
// must reject or decode, never panic, and what it accepts must encode back
// to the same bytes.
func FuzzDecodeWant(f *testing.F) {
	f.Add(encodeWant(&wire.Record{Type: wire.File, Mode: 0o644, MTime: 1700000000123456789, Size: 5, Hash: wire.Sum([]byte("hello"))}))
	f.Add(encodeWant(&wire.Record{Type: wire.Symlink, Mode: 0o777, Target: "../a/b"}))
	f.Add(encodeWant(&wire.Record{Type: wire.Dir, Mode: 0o755, MTime: -1}))
	f.Add(encodeWant(&wire.Record{Type: wire.File, V: 3, Size: 1}))
	f.Add(encodeWant(&wire.Record{Type: wire.Dir, Attrs: wire.Attrs{Owner: &wire.Owner{UID: 1, GID: 2, User: "u", Group: "g"},
		Xattrs: []byte{1, 1, 6, 'u', 's', 'e', 'r', '.', 'a', 1, 'b'}, ACL: []byte{1}, Link: "g"}}))
	f.Add(encodeWant(&wire.Record{Type: wire.CharDev, Mode: 0o600, Attrs: wire.Attrs{Rdev: 0x103}}))
	f.Add(encodeWant(&wire.Record{Type: wire.File, Mode: 0o600, Size: 1 << 30, Hash: wire.Sum(nil),
		Attrs: wire.Attrs{Extents: []wire.Extent{{Off: 5, Len: 10}}}}))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeWant(b)
		if err != nil {
			return
		}
		if again := w.encode(); !bytes.Equal(again, b) {
			t.Fatalf("round trip: %x -> %+v -> %x", b, w, again)
		}
	})
}
