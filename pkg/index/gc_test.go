package index

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

func TestSweepDropsOnlyUnreferencedChunks(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "ix.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	h := func(s string) wire.Hash { return wire.Sum([]byte(s)) }
	live := wire.ChunkRef{Hash: h("live"), Size: 4}
	blob := wire.ChunkRef{Hash: h("manifest blob"), Size: 13}
	err = ix.Batch(func(tx *Tx) error {
		for i, name := range []string{"live", "manifest blob", "old", "deleted", "too new"} {
			if err := tx.PutChunk(h(name), uint64(i+1)); err != nil {
				return err
			}
		}
		if err := tx.Put(&Entry{Path: "a", Stat: Stat{Type: wire.File, Size: 4}, Hash: live.Hash, Seq: 10, Chunks: []wire.ChunkRef{live}}); err != nil {
			return err
		}
		big := &Entry{Path: "d/big", Stat: Stat{Type: wire.File, Size: 4}, Hash: h("x"), Seq: 11, Manifest: []wire.ChunkRef{blob}}
		if err := tx.Put(big); err != nil {
			return err
		}
		return tx.Put(&Entry{Path: "gone", Stat: Stat{Type: wire.Deleted}, Seq: 12})
	})
	if err != nil {
		t.Fatal(err)
	}
	var dropped []wire.Hash
	n, err := ix.Sweep(4, func(hs []wire.Hash) error { dropped = append(dropped, hs...); return nil })
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2", n, err)
	}
	want := []wire.Hash{h("old"), h("deleted")}
	for _, w := range want {
		if !slices.Contains(dropped, w) {
			t.Errorf("chunk %s not dropped", w)
		}
		if ok, _ := ix.HasChunk(w); ok {
			t.Errorf("chunk %s still in the index", w)
		}
	}
	for _, keep := range []string{"live", "manifest blob", "too new"} {
		if ok, _ := ix.HasChunk(h(keep)); !ok {
			t.Errorf("chunk %q was dropped", keep)
		}
	}
}
