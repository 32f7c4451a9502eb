package index

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// bucketMark holds, during Sweep only, every chunk a current entry needs.
var bucketMark = []byte("gc-mark")

const gcPage = 4096

// Sweep finds chunks the broker holds that no current entry references
// (content of overwritten or deleted files), published at or before
// maxSeq so that chunks of a publish in progress are never taken. It calls
// drop with batches of them, and forgets each batch once drop succeeds.
// Work is done in pages, never in one long transaction, and memory does not
// grow with the tree. An error leaves the remaining chunks for next time.
func (ix *Index) Sweep(maxSeq uint64, drop func([]wire.Hash) error) (int, error) {
	if err := ix.mark(); err != nil {
		return 0, fmt.Errorf("mark referenced chunks: %w", err)
	}
	defer ix.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMark) })
	dropped := 0
	var after []byte
	for {
		garbage, next, err := ix.garbagePage(after, maxSeq)
		if err != nil || len(garbage) == 0 && next == nil {
			return dropped, err
		}
		if len(garbage) > 0 {
			if err := drop(garbage); err != nil {
				return dropped, err
			}
			if err := ix.forgetChunks(garbage); err != nil {
				return dropped, err
			}
			dropped += len(garbage)
		}
		if next == nil {
			return dropped, nil
		}
		after = next
	}
}

// mark fills bucketMark with the chunks and manifest blobs of every entry.
func (ix *Index) mark() error {
	err := ix.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMark) != nil {
			if err := tx.DeleteBucket(bucketMark); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucket(bucketMark)
		return err
	})
	var from []byte
	for err == nil {
		var refs []wire.Hash
		refs, from, err = ix.refsPage(from)
		if err == nil {
			err = ix.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketMark)
				for _, h := range refs {
					if err := b.Put(bytes.Clone(h[:]), nil); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if from == nil {
			break
		}
	}
	return err
}

// refsPage reads the chunk references of up to gcPage entries from key
// from on; next is where the following page starts, nil at the end.
func (ix *Index) refsPage(from []byte) (refs []wire.Hash, next []byte, err error) {
	err = ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for n := 0; k != nil; k, v = c.Next() {
			if n == gcPage {
				next = bytes.Clone(k)
				return nil
			}
			n++
			e, err := decodeEntry(pathOf(k), v, true)
			if err != nil {
				return fmt.Errorf("read entry %q: %w", pathOf(k), err)
			}
			for _, c := range e.Chunks {
				refs = append(refs, c.Hash)
			}
			for _, c := range e.Manifest {
				refs = append(refs, c.Hash)
			}
		}
		return nil
	})
	return refs, next, err
}

// garbagePage lists up to gcPage unreferenced chunks after key after.
func (ix *Index) garbagePage(after []byte, maxSeq uint64) (garbage []wire.Hash, next []byte, err error) {
	err = ix.db.View(func(tx *bolt.Tx) error {
		mark := tx.Bucket(bucketMark)
		c := tx.Bucket(bucketChunks).Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
		}
		for ; k != nil; k, v = c.Next() {
			if len(garbage) == gcPage {
				next = bytes.Clone(k)
				return nil
			}
			if len(k) != len(wire.Hash{}) || len(v) != 8 || binary.BigEndian.Uint64(v) > maxSeq || mark.Get(k) != nil {
				continue
			}
			garbage = append(garbage, wire.Hash(k))
		}
		return nil
	})
	return garbage, next, err
}

func (ix *Index) forgetChunks(hs []wire.Hash) error {
	return ix.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChunks)
		for _, h := range hs {
			if err := b.Delete(h[:]); err != nil {
				return err
			}
		}
		return nil
	})
}
