package index

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

func openTemp(t *testing.T) *Index {
	t.Helper()
	ix, err := Open(filepath.Join(t.TempDir(), "sub", "test.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

func ref(s string, n uint32) wire.ChunkRef { return wire.ChunkRef{Hash: wire.Sum([]byte(s)), Size: n} }

func file(path string, size int64, seq uint64, chunks ...wire.ChunkRef) *Entry {
	return &Entry{Path: path, Stat: Stat{Type: wire.File, Mode: 0o644, MTime: 1, Size: size, Ino: 7, CTime: 2},
		Hash: wire.Sum([]byte(path)), Seq: seq, Chunks: chunks}
}

func dir(path string, seq uint64) *Entry {
	return &Entry{Path: path, Stat: Stat{Type: wire.Dir, Mode: 0o755}, Seq: seq}
}

func put(t *testing.T, ix *Index, es ...*Entry) {
	t.Helper()
	err := ix.Batch(func(tx *Tx) error {
		for _, e := range es {
			if err := tx.Put(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
}

func paths(t *testing.T, it *Iter) []string {
	t.Helper()
	var out []string
	for it.Next() {
		out = append(out, it.Entry().Path)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterate: %v", err)
	}
	return out
}

func TestEntryRoundTrip(t *testing.T) {
	ix := openTemp(t)
	want := []*Entry{
		file("a/b.txt", 10, 42, ref("x", 4), ref("y", 6)),
		{Path: "big", Stat: Stat{Type: wire.File, Size: 1 << 40}, Hash: wire.Sum(nil), Seq: 3, Manifest: []wire.ChunkRef{ref("m", 99)}},
		dir("a", 5),
		{Path: "l", Stat: Stat{Type: wire.Symlink, MTime: -5, Ino: 1 << 60}, Target: "../x\xff", Seq: 9},
		{Path: "gone", Stat: Stat{Type: wire.Deleted}, Seq: 11},
		{Path: "new", Stat: Stat{Type: wire.File}, Hash: wire.Sum(nil)},
		{Path: "img", Stat: Stat{Type: wire.File, Size: 1 << 30}, Hash: wire.Sum(nil), Seq: 12,
			Chunks: []wire.ChunkRef{ref("s", 100)}, Extents: []wire.Extent{{Off: 1 << 20, Len: 60}, {Off: 1<<30 - 40, Len: 40}}},
		{Path: "hole", Stat: Stat{Type: wire.File, Size: 1 << 20}, Hash: wire.Sum(nil), Seq: 13, Extents: []wire.Extent{}},
	}
	put(t, ix, want...)
	for _, w := range want {
		got, err := ix.Get(w.Path)
		if err != nil || got == nil {
			t.Fatalf("get %q: %v, %v", w.Path, got, err)
		}
		if got.Path != w.Path || got.Stat != w.Stat || got.Hash != w.Hash || got.Target != w.Target ||
			got.Seq != w.Seq || !slices.Equal(got.Chunks, w.Chunks) || !slices.Equal(got.Manifest, w.Manifest) ||
			!slices.Equal(got.Extents, w.Extents) || (got.Extents == nil) != (w.Extents == nil) {
			t.Errorf("get %q = %+v, want %+v", w.Path, got, w)
		}
	}
	if h, err := ix.Head("a/b.txt"); err != nil || h.Seq != 42 || h.Chunks != nil || h.Hash != want[0].Hash {
		t.Errorf("head = %+v, %v", h, err)
	}
	if e, err := ix.Get("missing"); e != nil || err != nil {
		t.Errorf("get missing = %v, %v", e, err)
	}
}

// An entry stored before entries had extents (version 1) still decodes,
// as a dense file; a dense entry is still stored that way.
func TestEntryOfADenseFileKeepsVersion1(t *testing.T) {
	e := file("a", 10, 42, ref("x", 10))
	b, err := encodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 1 {
		t.Fatalf("dense entry stored as version %d", b[0])
	}
	got, err := decodeEntry("a", b, true)
	if err != nil || got.Extents != nil || !slices.Equal(got.Chunks, e.Chunks) {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	e.Extents = []wire.Extent{{Off: 2, Len: 10}}
	b, _ = encodeEntry(e)
	bad := append(b[:len(b)-1:len(b)-1], 11) // past the size
	if _, err := decodeEntry("a", bad, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("extent past the size: %v", err)
	}
}

func TestPutRejectsBadEntries(t *testing.T) {
	ix := openTemp(t)
	for _, e := range []*Entry{{Path: "", Stat: Stat{Type: wire.Dir}}, {Path: "a//b", Stat: Stat{Type: wire.Dir}}, {Path: "x"}} {
		if err := ix.Batch(func(tx *Tx) error { return tx.Put(e) }); err == nil {
			t.Errorf("put %+v succeeded", e)
		}
	}
}

func TestChildrenInNameOrder(t *testing.T) {
	ix := openTemp(t)
	// "a b" sorts after "a" but before "a/x" in plain string order; the key
	// encoding must still keep a's subtree together.
	put(t, ix, dir("a", 1), file("a/x", 1, 2), file("a b", 1, 3), dir("a/y", 4), file("a/y/z", 1, 5),
		file("b", 1, 6), file("orphan/deep/f", 1, 7), file("a0", 1, 8))
	if got, want := paths(t, ix.Children("")), []string{"a", "a b", "a0", "b", "orphan"}; !slices.Equal(got, want) {
		t.Errorf("children of root = %q, want %q", got, want)
	}
	if got, want := paths(t, ix.Children("a")), []string{"a/x", "a/y"}; !slices.Equal(got, want) {
		t.Errorf("children of a = %q, want %q", got, want)
	}
	it := ix.Children("orphan")
	if !it.Next() || it.Entry().Path != "orphan/deep" || it.Entry().Type != "" || it.Entry().Seq != 0 {
		t.Errorf("orphan child = %+v, want unknown entry orphan/deep", it.Entry())
	}
	if got := paths(t, ix.Children("b")); len(got) != 0 {
		t.Errorf("children of a file = %q", got)
	}
}

func TestIteratorsPage(t *testing.T) {
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 2
	ix := openTemp(t)
	var want []string
	for _, p := range []string{"d/a", "d/b", "d/c", "d/d", "d/e"} {
		put(t, ix, file(p, 1, 1), file(p+"/sub", 1, 1))
		want = append(want, p)
	}
	if got := paths(t, ix.Children("d")); !slices.Equal(got, want) {
		t.Errorf("paged children = %q, want %q", got, want)
	}
	if got := paths(t, ix.Descendants("d")); len(got) != 10 || got[0] != "d/e/sub" || got[9] != "d/a" {
		t.Errorf("paged descendants = %q", got)
	}
}

func TestDescendantsChildrenFirst(t *testing.T) {
	ix := openTemp(t)
	put(t, ix, dir("a", 1), dir("a/b", 1), file("a/b/c", 1, 1), file("a/d", 1, 1), file("a b", 1, 1), file("z", 1, 1))
	got := paths(t, ix.Descendants("a"))
	want := []string{"a/d", "a/b/c", "a/b"}
	if !slices.Equal(got, want) {
		t.Errorf("descendants of a = %q, want %q", got, want)
	}
	if got := paths(t, ix.Descendants("")); len(got) != 6 || got[len(got)-1] != "a" {
		t.Errorf("descendants of root = %q", got)
	}
	for _, d := range []string{"a", "a/b"} {
		if ok, err := ix.HasDescendants(d); !ok || err != nil {
			t.Errorf("HasDescendants(%q) = %v, %v", d, ok, err)
		}
	}
	if ok, _ := ix.HasDescendants("a/d"); ok {
		t.Error("a file has descendants")
	}
}

func TestStatsCounters(t *testing.T) {
	ix := openTemp(t)
	put(t, ix, dir("d", 1), file("d/f", 100, 2), file("g", 50, 3),
		&Entry{Path: "l", Stat: Stat{Type: wire.Symlink}, Target: "x"})
	put(t, ix, file("g", 70, 4))                                            // resized
	put(t, ix, &Entry{Path: "d/f", Stat: Stat{Type: wire.Deleted}, Seq: 5}) // deleted
	s, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Files: 1, Dirs: 1, Symlinks: 1, Bytes: 70, Published: 2}); s != want {
		t.Errorf("stats = %+v, want %+v", s, want)
	}
}

func TestMetaPersists(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.db")
	ix, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	id := ix.ID()
	if len(id) != 32 {
		t.Errorf("id %q", id)
	}
	if err := ix.SetMeta(Meta{Epoch: 3, Created: 12345, LastAcked: 77}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Batch(func(tx *Tx) error { tx.Acked(80); tx.Acked(79); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	m, err := ix.Meta()
	if want := (Meta{ID: id, Epoch: 3, Created: 12345, LastAcked: 80}); err != nil || m != want {
		t.Errorf("meta = %+v, %v; want %+v", m, err, want)
	}
}

func TestOpenLocked(t *testing.T) {
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 50 * time.Millisecond
	ix := openTemp(t)
	if _, err := Open(ix.Path()); !errors.Is(err, ErrLocked) {
		t.Errorf("second open = %v, want ErrLocked", err)
	}
}

func TestChildrenSubtree(t *testing.T) {
	ix := openTemp(t)
	// "b" is a file with leftover descendants (a directory replaced by a
	// file before its contents were tombstoned); "b!" sorts between b's
	// subtree and "c" and must not be taken for part of it.
	put(t, ix, file("a", 1, 1), file("b", 1, 2), file("b/x", 1, 3), file("b/y/z", 1, 4), file("b!", 1, 5),
		dir("c", 6), file("c/d", 1, 7), file("e", 1, 8))
	for _, size := range []int{1, 2, 256} {
		pageSize = size
		got := map[string]bool{}
		var order []string
		for it := ix.Children(""); it.Next(); {
			got[it.Entry().Path] = it.Entry().Subtree
			order = append(order, it.Entry().Path)
		}
		want := map[string]bool{"a": false, "b": true, "b!": false, "c": true, "e": false}
		if !maps.Equal(got, want) || !slices.Equal(order, []string{"a", "b", "b!", "c", "e"}) {
			t.Fatalf("page %d: got %v in order %v, want %v", size, got, order, want)
		}
	}
	pageSize = 256
}

func TestMarkUnpublished(t *testing.T) {
	ix := openTemp(t)
	put(t, ix, file("a", 10, 5, ref("c1", 10)), &Entry{Path: "t", Stat: Stat{Type: wire.Deleted}, Seq: 6})
	err := ix.Batch(func(tx *Tx) error {
		for _, p := range []struct {
			path string
			typ  wire.Type
		}{{"a", wire.Deleted}, {"t", wire.File}, {"new", wire.Dir}, {"new", wire.Dir}} {
			if err := tx.MarkUnpublished(p.path, p.typ); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ix.Get("a")
	if err != nil || a == nil || a.Seq != 0 || a.Type != wire.File || len(a.Chunks) != 1 || a.Size != 10 {
		t.Fatalf("a: want the file entry kept with seq 0, got %+v, %v", a, err)
	}
	if e, _ := ix.Head("t"); e == nil || e.Seq != 0 || e.Type != wire.Deleted {
		t.Fatalf("t: want the tombstone entry with seq 0, got %+v", e)
	}
	if e, _ := ix.Head("new"); e == nil || e.Seq != 0 || e.Type != wire.Dir {
		t.Fatalf("new: want a bare dir entry with seq 0, got %+v", e)
	}
	st, err := ix.Stats()
	if err != nil || st.Files != 1 || st.Dirs != 1 || st.Bytes != 10 || st.Published != 0 {
		t.Fatalf("stats %+v, %v", st, err)
	}
}
