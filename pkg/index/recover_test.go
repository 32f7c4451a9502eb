package index

import (
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

func putChunks(t *testing.T, ix *Index, seqs map[string]uint64) {
	t.Helper()
	err := ix.Batch(func(tx *Tx) error {
		for s, seq := range seqs {
			if err := tx.PutChunk(wire.Sum([]byte(s)), seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func seqOf(t *testing.T, ix *Index, p string) uint64 {
	t.Helper()
	e, err := ix.Get(p)
	if err != nil || e == nil {
		t.Fatalf("get %q: %v, %v", p, e, err)
	}
	return e.Seq
}

func has(t *testing.T, ix *Index, s string) bool {
	t.Helper()
	ok, err := ix.HasChunk(wire.Sum([]byte(s)))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMarkLost(t *testing.T) {
	defer func(n int) { rewritePage = n }(rewritePage)
	rewritePage = 2 // exercise paging
	ix := openTemp(t)
	putChunks(t, ix, map[string]uint64{"old": 1, "tail": 12, "m": 13})
	put(t, ix,
		file("keep", 3, 2, ref("old", 3)),
		file("late", 4, 14, ref("old", 4)),
		// Published before the loss point, but its chunk was republished
		// after it (chunk lost earlier and sent again).
		file("refs-lost", 4, 9, ref("tail", 4)),
		&Entry{Path: "manifest", Stat: Stat{Type: wire.File, Size: 1}, Hash: wire.Sum(nil), Seq: 5, Manifest: []wire.ChunkRef{ref("m", 8)}},
		&Entry{Path: "tomb", Stat: Stat{Type: wire.Deleted}, Seq: 15},
		&Entry{Path: "tomb-old", Stat: Stat{Type: wire.Deleted}, Seq: 6},
		dir("d", 10),
	)
	lost, err := ix.MarkLost(10)
	if err != nil {
		t.Fatal(err)
	}
	if lost != (Lost{Entries: 4, Chunks: 2}) {
		t.Errorf("lost = %+v", lost)
	}
	for p, want := range map[string]uint64{"keep": 2, "late": 0, "refs-lost": 0, "manifest": 0, "tomb": 0, "tomb-old": 6, "d": 10} {
		if got := seqOf(t, ix, p); got != want {
			t.Errorf("seq of %s = %d, want %d", p, got, want)
		}
	}
	if !has(t, ix, "old") || has(t, ix, "tail") || has(t, ix, "m") {
		t.Error("wrong chunks forgotten")
	}
}

func TestResetAll(t *testing.T) {
	ix := openTemp(t)
	putChunks(t, ix, map[string]uint64{"a": 1, "b": 2})
	put(t, ix, file("f", 1, 3, ref("a", 1)), dir("d", 4), &Entry{Path: "t", Stat: Stat{Type: wire.Deleted}, Seq: 5})
	lost, err := ix.ResetAll()
	if err != nil {
		t.Fatal(err)
	}
	if lost != (Lost{Entries: 3, Chunks: 2}) {
		t.Errorf("lost = %+v", lost)
	}
	for _, p := range []string{"f", "d", "t"} {
		if seqOf(t, ix, p) != 0 {
			t.Errorf("%s still published", p)
		}
	}
	if has(t, ix, "a") || has(t, ix, "b") {
		t.Error("chunks survived ResetAll")
	}
	if s, _ := ix.Stats(); s.Files != 1 || s.Dirs != 1 {
		t.Errorf("stats changed: %+v", s)
	}
}
