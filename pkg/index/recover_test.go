package index

import (
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

func seqOf(t *testing.T, ix *Index, p string) uint64 {
	t.Helper()
	e, err := ix.Get(p)
	if err != nil || e == nil {
		t.Fatalf("get %q: %v, %v", p, e, err)
	}
	return e.Seq
}

func TestMarkLost(t *testing.T) {
	defer func(n int) { rewritePage = n }(rewritePage)
	rewritePage = 2 // exercise paging
	ix := openTemp(t)
	put(t, ix,
		file("keep", 3, 2, ref("old", 3)),
		file("late", 4, 14, ref("old", 4)),
		&Entry{Path: "manifest", Stat: Stat{Type: wire.File, Size: 1}, Hash: wire.Sum(nil), Seq: 5, Manifest: []wire.ChunkRef{ref("m", 8)}},
		&Entry{Path: "tomb", Stat: Stat{Type: wire.Deleted}, Seq: 15},
		&Entry{Path: "tomb-old", Stat: Stat{Type: wire.Deleted}, Seq: 6},
		dir("d", 10),
	)
	n, err := ix.MarkLost(10)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("marked %d entries, want 2", n)
	}
	for p, want := range map[string]uint64{"keep": 2, "late": 0, "manifest": 5, "tomb": 0, "tomb-old": 6, "d": 10} {
		if got := seqOf(t, ix, p); got != want {
			t.Errorf("seq of %s = %d, want %d", p, got, want)
		}
	}
}

func TestResetAll(t *testing.T) {
	ix := openTemp(t)
	put(t, ix, file("f", 1, 3, ref("a", 1)), dir("d", 4), &Entry{Path: "t", Stat: Stat{Type: wire.Deleted}, Seq: 5})
	n, err := ix.ResetAll()
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("marked %d entries, want 3", n)
	}
	for _, p := range []string{"f", "d", "t"} {
		if seqOf(t, ix, p) != 0 {
			t.Errorf("%s still published", p)
		}
	}
	if s, _ := ix.Stats(); s.Files != 1 || s.Dirs != 1 {
		t.Errorf("stats changed: %+v", s)
	}
}

// An index written by a release that kept content on the broker has a
// chunk table; opening it removes the table and keeps every entry.
func TestOpenRemovesLegacyChunkTable(t *testing.T) {
	ix := openTemp(t)
	path := ix.Path()
	put(t, ix, file("f", 1, 3, ref("a", 1)))
	err := ix.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(legacyChunks)
		if err != nil {
			return err
		}
		h := wire.Sum([]byte("a"))
		return b.Put(h[:], []byte{0, 0, 0, 0, 0, 0, 0, 7})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if seqOf(t, ix, "f") != 3 {
		t.Error("entry lost by the upgrade")
	}
	_ = ix.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(legacyChunks) != nil {
			t.Error("legacy chunk table still there")
		}
		return nil
	})
}
