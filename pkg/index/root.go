package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// keyRoot holds the source's digest of the folder root's own state as
// the broker last acknowledged it (the root has no entry: it is no path).
var keyRoot = []byte("root")

// RootState returns the digest SetRootState stored, nil if none.
func (ix *Index) RootState() ([]byte, error) {
	var v []byte
	err := ix.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bucketMeta).Get(keyRoot)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read index meta: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// SetRootState stores digest as the root's published state; nil forgets
// it, so the root is published again.
func (ix *Index) SetRootState(digest []byte) error {
	err := ix.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if digest == nil {
			return b.Delete(keyRoot)
		}
		return b.Put(keyRoot, digest)
	})
	if err != nil {
		return fmt.Errorf("write index meta: %w", err)
	}
	return nil
}

// SetRootState stores digest as the root's published state within tx.
func (tx *Tx) SetRootState(digest []byte) error { return tx.meta.Put(keyRoot, digest) }
