package replica

import (
	"reflect"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// FuzzUnmarshalApplied feeds the replica store's entry decoder arbitrary
// bytes, as a damaged store file would: it must reject or decode, never
// panic, and whatever it accepts must survive a round trip.
func FuzzUnmarshalApplied(f *testing.F) {
	file := &appliedEntry{Type: wire.File, Mode: 0o644, MTime: 1700000000123456789, Size: 12,
		Hash: wire.Sum([]byte("hello world\n")), Disk: fingerprint{Ino: 42, Size: 12, MTime: 1700000000123456789, Mode: 0o100644, CTime: 1700000001}}
	link := &appliedEntry{Type: wire.Symlink, Mode: 0o777, MTime: -1, Target: "../x", Disk: fingerprint{Ino: 7, Mode: 0o120777}}
	dir := &appliedEntry{Type: wire.Dir, Mode: 0o755}
	for _, e := range []*appliedEntry{file, link, dir} {
		b := e.marshal()
		f.Add(b)
		f.Add(formatOne(b))
	}
	f.Add([]byte{2})
	f.Add([]byte{3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := unmarshalApplied(b)
		if err != nil {
			if e != nil {
				t.Fatal("an entry returned with an error")
			}
			return
		}
		if e.Type != wire.File && e.Type != wire.Dir && e.Type != wire.Symlink {
			t.Fatalf("decoded type %q", e.Type)
		}
		if b[0] == 1 && e.Disk.CTime != 0 {
			t.Fatalf("a format 1 entry decoded with ctime %d", e.Disk.CTime)
		}
		again, err := unmarshalApplied(e.marshal())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip: %+v -> %+v, %v", e, again, err)
		}
	})
}

// formatOne rewrites a format 2 entry as format 1 (no ctime), as older
// versions stored it.
func formatOne(b []byte) []byte {
	e, err := unmarshalApplied(b)
	if err != nil {
		panic(err)
	}
	e.Disk.CTime = 0
	v2 := e.marshal()
	// The ctime is the last varint before the target: 0 encodes as one byte.
	out := append([]byte{1}, v2[1:len(v2)-len(e.Target)-1]...)
	return append(out, e.Target...)
}
