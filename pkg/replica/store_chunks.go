package replica

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// FindChunk implements apply.Local: where a chunk was last written locally.
// The location may be stale; the applier re-verifies what it reads.
func (s *store) FindChunk(h wire.Hash) (string, int64, bool) {
	var path string
	var off int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketChunks).Get(h[:])
		o, n := binary.Varint(v)
		if n <= 0 {
			return nil
		}
		off, path = o, wire.SortPath(v[n:])
		return nil
	})
	return path, off, path != ""
}

// placeChunks records that chunks lie from off on in the file at path,
// in a transaction of its own: a file whose list comes in manifest blobs
// is told of a blob's worth at a time (apply.Applier.Placed), once it is
// committed but before the committer records its entry. Should the
// replica stop in between, the locations are right all the same.
func (s *store) placeChunks(path string, off int64, chunks []wire.ChunkRef) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putChunkLocsAt(tx, path, off, chunks) })
}

// putChunkLocs records that chunks, a file's whole list, lie in the file
// at path: one after the other, or at the extents of a sparse file.
func putChunkLocs(tx *bolt.Tx, path string, ext []wire.Extent, chunks []wire.ChunkRef) error {
	var err error
	wire.PlaceChunks(ext, 0, chunks, func(off int64, run []wire.ChunkRef) {
		if err == nil {
			err = putChunkLocsAt(tx, path, off, run)
		}
	})
	return err
}

// putChunkLocsAt records that chunks lie from off on in the file at path.
func putChunkLocsAt(tx *bolt.Tx, path string, off int64, chunks []wire.ChunkRef) error {
	b := tx.Bucket(bucketChunks)
	key := wire.SortKey(path)
	for _, c := range chunks {
		v := binary.AppendVarint(nil, off)
		if err := b.Put(bytes.Clone(c.Hash[:]), append(v, key...)); err != nil {
			return err
		}
		off += int64(c.Size)
	}
	return nil
}

// deleteTree drops the applied entries of path and everything under it.
func deleteTree(tx *bolt.Tx, path string) error {
	b := tx.Bucket(bucketApplied)
	key := wire.SortKey(path)
	if v := b.Get(key); v != nil {
		if err := dropLink(tx, path, v); err != nil {
			return err
		}
	}
	if err := b.Delete(key); err != nil {
		return err
	}
	prefix := append(key, 0)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		if err := dropLink(tx, wire.SortPath(k), v); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
