package index

import (
	"bytes"
	"fmt"

	"github.com/jetsync/jetsync/pkg/wire"
	bolt "go.etcd.io/bbolt"
)

// rewritePage bounds the entries rewritten per transaction, so recovering
// a huge tree does not build one huge transaction in memory.
var rewritePage = 10000

// MarkLost handles a broker that lost the tail of the state stream after
// lastSeq: every entry published after lastSeq is marked unpublished
// (Seq 0) and returned to the number. Content is not on the broker's
// state stream, so no other entry depends on what was lost.
func (ix *Index) MarkLost(lastSeq uint64) (int, error) {
	return ix.resetEntries(func(e *Entry) bool { return e.Seq > lastSeq })
}

// ResetAll handles a broker that lost the whole stream: every entry is
// marked unpublished.
func (ix *Index) ResetAll() (int, error) {
	return ix.resetEntries(func(*Entry) bool { return true })
}

// resetEntries sets Seq to 0 on every published entry matching lost, a page
// of entries per transaction.
func (ix *Index) resetEntries(lost func(*Entry) bool) (int, error) {
	var pos []byte
	total := 0
	for done := false; !done; {
		err := ix.db.Update(func(tx *bolt.Tx) error {
			var n int
			var err error
			pos, n, done, err = resetPage(tx.Bucket(bucketEntries), pos, lost)
			total += n
			return err
		})
		if err != nil {
			return total, fmt.Errorf("mark index entries unpublished: %w", err)
		}
	}
	return total, nil
}

// resetPage rewrites the matching entries of one page starting at pos and
// returns where the next page starts. Values are collected first because a
// bbolt cursor is invalidated by writes.
func resetPage(b *bolt.Bucket, pos []byte, lost func(*Entry) bool) ([]byte, int, bool, error) {
	type kv struct{ k, v []byte }
	var updates []kv
	c := b.Cursor()
	k, v := c.Seek(pos)
	for i := 0; k != nil && i < rewritePage; i++ {
		// Undecodable values are left alone: readers already treat them as
		// unpublished.
		if e, err := decodeEntry(wire.SortPath(k), v, true); err == nil && e.Seq != 0 && lost(e) {
			e.Seq = 0
			nv, err := encodeEntry(e)
			if err != nil {
				return nil, 0, false, err
			}
			updates = append(updates, kv{bytes.Clone(k), nv})
		}
		k, v = c.Next()
	}
	next := bytes.Clone(k)
	for _, u := range updates {
		if err := b.Put(u.k, u.v); err != nil {
			return nil, 0, false, err
		}
	}
	return next, len(updates), k == nil, nil
}
