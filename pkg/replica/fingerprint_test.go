package replica

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// A replica file edited in place, with its size and mtime put back, is not
// trusted as what the replica wrote: its ctime moved. A metadata-only
// update of that file then rewrites the content instead of only fixing
// the mode.
func TestReplicaNoticesEditBehindKeptMtime(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mtime := time.Unix(1_700_000_000, 0)
	pub.file("a", []byte("hello"), 0o644, mtime)
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, fileIs(root, "a", []byte("hello"), 0o644, mtime), "first version")
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "settled")

	p := filepath.Join(root, "a")
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("HELLO"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}

	pub.file("a", []byte("hello"), 0o600, mtime) // same content, new mode
	jstest.Eventually(t, 10*time.Second, fileIs(root, "a", []byte("hello"), 0o600, mtime), "content restored with the new mode")
}

func TestFingerprintSame(t *testing.T) {
	f := fingerprint{Ino: 7, Size: 5, MTime: 9, Mode: 0o644, CTime: 11}
	g := f
	if !f.same(g) {
		t.Fatal("equal fingerprints differ")
	}
	g.CTime = 12
	if f.same(g) {
		t.Fatal("a moved ctime went unnoticed")
	}
	g.CTime = 0 // recorded before ctimes were
	if !f.same(g) || !g.same(f) {
		t.Fatal("an unknown ctime must not count as a change")
	}
	g.MTime = 10
	if f.same(g) {
		t.Fatal("a moved mtime went unnoticed")
	}
}

// Entries of format 1 (no ctime) and 2 (no attributes' digest) still
// decode; format 3 keeps both.
func TestAppliedEntryFormats(t *testing.T) {
	e := &appliedEntry{Type: wire.Symlink, Mode: 0o777, MTime: 3, Target: "t",
		Disk: fingerprint{Ino: 1, Size: 2, MTime: 3, Mode: 4, CTime: 5}, Attrs: wire.Sum([]byte("x")), Link: "g", Time: 9}
	got, err := unmarshalApplied(e.marshal())
	if err != nil || *got != *e {
		t.Fatalf("format 3 round trip: %+v, %v", got, err)
	}
	got, err = unmarshalApplied(formatTwo(e))
	want2 := *e
	want2.Attrs, want2.Link, want2.Time = wire.Hash{}, "", 0
	if err != nil || *got != want2 {
		t.Fatalf("format 2: %+v, %v, want %+v", got, err, want2)
	}
	// Format 1: the same fields without the ctime.
	v1 := []byte{1, typeCodes[wire.Symlink]}
	v1 = append(v1, 0xff, 0x03) // mode 0o777 as uvarint
	v1 = append(v1, 6)          // mtime 3 as varint
	v1 = append(v1, 0)          // size 0
	v1 = append(v1, make([]byte, 32)...)
	v1 = append(v1, 1, 4, 6, 4) // ino 1, size 2, mtime 3, mode 4
	v1 = append(v1, 't')
	got, err = unmarshalApplied(v1)
	want := want2
	want.Disk.CTime = 0
	if err != nil || *got != want {
		t.Fatalf("format 1: %+v, %v, want %+v", got, err, want)
	}
}
