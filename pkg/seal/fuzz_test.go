package seal

import (
	"testing"
)

// fuzzKeys are fixed so that the corpus stays meaningful between runs.
var fuzzKeys = (&Key{b: [KeySize]byte{1, 2, 3}}).For("f")

// Any bytes given to Open give an error or, only for what Seal made with
// these keys for this subject, the plaintext; never a panic.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{magic})
	f.Add([]byte{magic, version})
	f.Add([]byte{magic, 2, 0, 0})
	f.Add(fuzzKeys.Seal(KindRecord, "jetsync.f.s.x", []byte("hello")))
	f.Add(fuzzKeys.Seal(KindRecord, "jetsync.f.s.x", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		plain, err := fuzzKeys.Open(KindRecord, "jetsync.f.s.x", b)
		if err != nil && plain != nil {
			t.Fatalf("error %v with plaintext %q", err, plain)
		}
		if _, err := fuzzKeys.DecodeRecord("jetsync.f.s.x", b); err == nil && !IsSealed(b) {
			t.Fatalf("unsealed bytes %q decoded as a record", b)
		}
		var none *FolderKeys
		_, _ = none.DecodeMeta("f", b)
		_, _ = fuzzKeys.DecodeMeta("f", b)
	})
}

// Whatever a key file holds, Load gives a key or an error.
func FuzzParse(f *testing.F) {
	f.Add("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := parse("key", s); (k == nil) == (err == nil) {
			t.Fatalf("parse %q: %v, %v", s, k, err)
		}
	})
}
