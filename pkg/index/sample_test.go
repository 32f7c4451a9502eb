package index

import (
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

func published(t *testing.T, ix *Index) int64 {
	t.Helper()
	s, err := ix.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s.Published
}

// The count of records the stream must hold follows every way an entry
// changes: published, republished, tombstoned, marked unpublished, lost.
func TestPublishedCount(t *testing.T) {
	ix := openTemp(t)
	tomb := func(p string, seq uint64) *Entry { return &Entry{Path: p, Stat: Stat{Type: wire.Deleted}, Seq: seq} }
	steps := []struct {
		name string
		do   func() error
		want int64
	}{
		{"put", func() error {
			put(t, ix, dir("d", 1), file("d/f", 1, 2), file("g", 1, 3), file("new", 1, 0), tomb("t", 4),
				&Entry{Path: "l", Stat: Stat{Type: wire.Symlink}, Target: "x", Seq: 5})
			return nil
		}, 4},
		{"republish", func() error { put(t, ix, file("g", 2, 6), file("new", 1, 7)); return nil }, 5},
		{"tombstone", func() error { put(t, ix, tomb("d/f", 8)); return nil }, 4},
		{"unpublished", func() error {
			return ix.Batch(func(tx *Tx) error { return tx.MarkUnpublished("g", wire.File) })
		}, 3},
		{"lost tail", func() error { _, err := ix.MarkLost(5); return err }, 2},
		{"lost all", func() error { _, err := ix.ResetAll(); return err }, 0},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := published(t, ix); got != st.want {
			t.Fatalf("after %s: published = %d, want %d", st.name, got, st.want)
		}
	}
}

// An index written before the count was kept is counted when opened.
func TestPublishedCountedOnOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "old.db")
	ix, err := Open(p)
	must(t, err)
	put(t, ix, dir("d", 1), file("d/f", 1, 2), file("u", 1, 0), &Entry{Path: "t", Stat: Stat{Type: wire.Deleted}, Seq: 3})
	must(t, ix.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyPublished) }))
	must(t, ix.Close())
	ix, err = Open(p)
	must(t, err)
	defer ix.Close()
	if got := published(t, ix); got != 2 {
		t.Errorf("published = %d, want 2", got)
	}
}

// PublishedAfter walks the published entries a bounded page at a time,
// skipping tombstones and unpublished entries, and says where the end is.
func TestPublishedAfter(t *testing.T) {
	ix := openTemp(t)
	put(t, ix, dir("a", 1), file("a/x", 1, 2), file("a!", 1, 0), file("b", 1, 3),
		&Entry{Path: "c", Stat: Stat{Type: wire.Deleted}, Seq: 4}, file("d", 1, 5))
	want := []string{"a", "a/x", "b", "d"}
	for _, n := range []int{1, 2, 3, 10} {
		var got []string
		after := ""
		for range 20 {
			es, next, err := ix.PublishedAfter(after, n)
			must(t, err)
			if len(es) > n {
				t.Fatalf("n=%d: %d entries", n, len(es))
			}
			for _, e := range es {
				got = append(got, e.Path)
			}
			if after = next; after == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("n=%d: walked %v, want %v", n, got, want)
		}
	}
	// Reads are bounded: a long run of entries that are not on the stream
	// ends a page early.
	var tombs []*Entry
	for i := range 3 * sampleReach {
		tombs = append(tombs, &Entry{Path: "t/" + string(rune('a'+i)), Stat: Stat{Type: wire.Deleted}, Seq: uint64(10 + i)})
	}
	put(t, ix, tombs...)
	es, next, err := ix.PublishedAfter("d", 1)
	must(t, err)
	if len(es) != 0 || next != "t/"+string(rune('a'+sampleReach-1)) {
		t.Errorf("after d: %d entries, next %q", len(es), next)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
