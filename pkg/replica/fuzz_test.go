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
	file := &appliedEntry{Type: wire.File, Mode: 0o644, MTime: 1700000000123456789, Size: 12, Attrs: wire.Sum([]byte("a")), Link: "fd00.2a", Time: 1700000002,
		Hash: wire.Sum([]byte("hello world\n")), Disk: fingerprint{Ino: 42, Size: 12, MTime: 1700000000123456789, Mode: 0o100644, CTime: 1700000001}}
	link := &appliedEntry{Type: wire.Symlink, Mode: 0o777, MTime: -1, Target: "../x", Disk: fingerprint{Ino: 7, Mode: 0o120777}}
	dir := &appliedEntry{Type: wire.Dir, Mode: 0o755}
	for _, e := range []*appliedEntry{file, link, dir} {
		f.Add(e.marshal())
		v1 := formatOne(e)
		want := *e
		want.Disk.CTime, want.Attrs, want.Link, want.Time = 0, wire.Hash{}, "", 0
		if got, err := unmarshalApplied(v1); err != nil || *got != want {
			f.Fatalf("format 1 seed decodes to %+v, %v; want %+v", got, err, want)
		}
		f.Add(v1)
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
		if e.Type != wire.File && e.Type != wire.Dir && e.Type != wire.Symlink && !e.Type.Special() {
			t.Fatalf("decoded type %q", e.Type)
		}
		if b[0] < 3 && (e.Attrs != (wire.Hash{}) || e.Link != "" || e.Time != 0) {
			t.Fatalf("a format %d entry decoded with attributes %s", b[0], e.Attrs)
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

// formatOne is e as format 1 stored it: no ctime (TestAppliedEntryFormats
// spells that format out byte by byte).
func formatOne(e *appliedEntry) []byte {
	c := *e
	c.Disk.CTime = 0
	c.Attrs = wire.Hash{}
	c.Link, c.Time = "", 0
	b := c.marshal()
	// Drop the attributes' digest, the link group's length (0), the time
	// (0) and, before them, the ctime, a one-byte varint 0, just before
	// the target.
	head := b[1 : len(b)-len(c.Target)-len(c.Attrs)-3]
	return append(append([]byte{1}, head...), c.Target...)
}

// formatTwo is e as format 2 stored it: no attributes' digest.
func formatTwo(e *appliedEntry) []byte {
	c := *e
	c.Attrs, c.Link, c.Time = wire.Hash{}, "", 0
	b := c.marshal()
	head := b[1 : len(b)-len(c.Target)-len(c.Attrs)-2]
	return append(append([]byte{2}, head...), c.Target...)
}

// FuzzUnmarshalParked feeds the parked-record decoder arbitrary bytes, as
// a damaged store would: it must reject or decode, never panic, and what
// it accepts must survive a round trip.
func FuzzUnmarshalParked(f *testing.F) {
	e := &parkedEntry{Path: "a/b", Seq: 42, Time: 1700000000123456789, Since: 1700000001, Next: 1700000006,
		Attempts: 3, Reason: "fetch chunk for a/b: content gone from the source"}
	f.Add(e.marshal())
	f.Add([]byte{1, 0})
	f.Add([]byte{2, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := unmarshalParked("p", b)
		if err != nil {
			if e != nil {
				t.Fatal("an entry returned with an error")
			}
			return
		}
		if e.Seq == 0 {
			t.Fatal("decoded sequence 0")
		}
		again, err := unmarshalParked("p", e.marshal())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip: %+v -> %+v, %v", e, again, err)
		}
	})
}
