package index

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// Tx is a write transaction; see Index.Batch.
type Tx struct {
	entries, meta *bolt.Bucket
	delta         Stats
	lastAcked     uint64
}

// Batch runs fn in one write transaction and commits it, or rolls back if
// fn fails. Callers group many updates per batch: every commit syncs the
// file.
func (ix *Index) Batch(fn func(tx *Tx) error) error {
	err := ix.db.Update(func(btx *bolt.Tx) error {
		tx := &Tx{entries: btx.Bucket(bucketEntries), meta: btx.Bucket(bucketMeta)}
		if err := fn(tx); err != nil {
			return err
		}
		return tx.finish()
	})
	if err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

// Get returns the full entry of path as this transaction sees it, or nil.
func (tx *Tx) Get(path string) (*Entry, error) {
	return getEntry(tx.entries, path, true)
}

// Put stores e, replacing the entry of its path, and keeps the counters.
func (tx *Tx) Put(e *Entry) error {
	if err := wire.ValidPath(e.Path); err != nil {
		return fmt.Errorf("put entry: %w", err)
	}
	v, err := encodeEntry(e)
	if err != nil {
		return err
	}
	k := wire.SortKey(e.Path)
	if old := tx.entries.Get(k); old != nil {
		// A corrupt old value contributes nothing; the counters may then be
		// off by one entry, which is better than refusing the repair.
		if o, err := decodeEntry(e.Path, old, false); err == nil {
			tx.count(o, -1)
		}
	}
	tx.count(e, 1)
	return tx.entries.Put(k, v)
}

func (tx *Tx) count(e *Entry, sign int64) {
	if e.onStream() {
		tx.delta.Published += sign
	}
	switch e.Type {
	case wire.File:
		tx.delta.Files += sign
		tx.delta.Bytes += sign * e.Size
	case wire.Dir:
		tx.delta.Dirs += sign
	case wire.Symlink:
		tx.delta.Symlinks += sign
	}
}

// Delete drops the entry of path, if any, and keeps the counters.
func (tx *Tx) Delete(path string) error {
	k := wire.SortKey(path)
	old := tx.entries.Get(k)
	if old == nil {
		return nil
	}
	if o, err := decodeEntry(path, old, false); err == nil {
		tx.count(o, -1)
	}
	return tx.entries.Delete(k)
}

// Acked raises the stored last acknowledged sequence to seq if it is
// higher.
func (tx *Tx) Acked(seq uint64) { tx.lastAcked = max(tx.lastAcked, seq) }

func (tx *Tx) finish() error {
	var errs []error
	if tx.lastAcked > getUint(tx.meta, keyLastAcked) {
		errs = append(errs, putUint(tx.meta, keyLastAcked, tx.lastAcked))
	}
	add := func(k []byte, d int64) {
		if d != 0 {
			errs = append(errs, putUint(tx.meta, k, uint64(int64(getUint(tx.meta, k))+d)))
		}
	}
	add(keyFiles, tx.delta.Files)
	add(keyDirs, tx.delta.Dirs)
	add(keySymlinks, tx.delta.Symlinks)
	add(keyBytes, tx.delta.Bytes)
	add(keyPublished, tx.delta.Published)
	return errors.Join(errs...)
}

// MarkUnpublished records that a record of type typ for path may be on
// the broker although no ack said so (the publish failed after it was
// sent). The entry keeps what it had but gets Seq 0; a path without a
// readable entry gets a bare one of type typ. Either way the source looks
// at the path again and publishes or tombstones it, so whatever landed is
// superseded.
func (tx *Tx) MarkUnpublished(path string, typ wire.Type) error {
	e, err := tx.Get(path)
	switch {
	case err != nil || e == nil:
		e = &Entry{Path: path, Stat: Stat{Type: typ}}
	case e.Seq == 0:
		return nil // already marked
	}
	e.Seq = 0
	return tx.Put(e)
}
