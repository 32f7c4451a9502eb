package replica

import (
	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// The folder root's own record (wire.RootPath) has no key of its own in
// the applied bucket (bbolt keys are never empty): its entry lives in the
// meta bucket, and its mark in the directories due is a lone NUL, which
// no path's key can be.
var (
	keyRootEntry = []byte("root_entry")
	keyRootDue   = []byte{0}
)

// dueKey is the key of directory path in bucketDirDue.
func dueKey(path string) []byte {
	if path == wire.RootPath {
		return keyRootDue
	}
	return wire.SortKey(path)
}

// duePath inverts dueKey.
func duePath(k []byte) string {
	if len(k) == 1 && k[0] == 0 {
		return wire.RootPath
	}
	return wire.SortPath(k)
}

// putRootChange records the root's applied entry and marks it due: its
// mode and mtime are set once the records before it are applied.
func putRootChange(tx *bolt.Tx, e *appliedEntry) error {
	if e == nil {
		return nil
	}
	if err := tx.Bucket(bucketMeta).Put(keyRootEntry, e.marshal()); err != nil {
		return err
	}
	return tx.Bucket(bucketDirDue).Put(keyRootDue, nil)
}

// markRootDue marks the root due after a change of its entries, if the
// source published the root's state (older sources do not).
func markRootDue(tx *bolt.Tx) error {
	if tx.Bucket(bucketMeta).Get(keyRootEntry) == nil {
		return nil
	}
	return tx.Bucket(bucketDirDue).Put(keyRootDue, nil)
}

// rootEntry reads the root's applied entry from the meta bucket.
func rootEntry(tx *bolt.Tx) (*appliedEntry, error) {
	v := tx.Bucket(bucketMeta).Get(keyRootEntry)
	if v == nil {
		return nil, nil
	}
	return unmarshalApplied(v)
}
