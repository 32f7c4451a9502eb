package replica

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// TestChunkLocationsOfASparseFile: a sparse file's chunks are found at
// their offsets in the file, within its extents, not at their offsets in
// its data.
func TestChunkLocationsOfASparseFile(t *testing.T) {
	st, err := openStore(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ext := []wire.Extent{{Off: 1 << 20, Len: 300}, {Off: 5 << 20, Len: 100}}
	var chunks []wire.ChunkRef
	for i, n := range []uint32{200, 100, 100} {
		chunks = append(chunks, wire.ChunkRef{Hash: wire.Sum([]byte{byte(i)}), Size: n})
	}
	err = st.db.Update(func(tx *bolt.Tx) error { return putChunkLocs(tx, "img", ext, chunks) })
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{1 << 20, 1<<20 + 200, 5 << 20} {
		if p, off, ok := st.FindChunk(chunks[i].Hash); !ok || p != "img" || off != want {
			t.Errorf("chunk %d at %q %d (%v), want img %d", i, p, off, ok, want)
		}
	}
}
