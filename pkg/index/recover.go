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

// ResetAll handles a broker that lost the whole stream, or whose stream
// was purged: every entry is marked unpublished.
func (ix *Index) ResetAll() (int, error) {
	return ix.resetEntries(func(*Entry) bool { return true })
}

// resetEntries sets Seq to 0 on every published entry matching lost, a page
// of entries per transaction. Since it reads every entry, it also counts
// again those still published, which mends a count a corrupt entry threw
// off (see Tx.Put).
func (ix *Index) resetEntries(lost func(*Entry) bool) (int, error) {
	var pos []byte
	total := 0
	var published uint64
	for done := false; !done; {
		err := ix.db.Update(func(tx *bolt.Tx) error {
			p, err := resetPage(tx.Bucket(bucketEntries), pos, lost)
			if err != nil {
				return err
			}
			pos, done = p.next, p.done
			total += p.reset
			published += p.published
			if done {
				// The root's own record may be lost too: publish it again.
				if err := tx.Bucket(bucketMeta).Delete(keyRoot); err != nil {
					return err
				}
				return putUint(tx.Bucket(bucketMeta), keyPublished, published)
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("mark index entries unpublished: %w", err)
		}
	}
	return total, nil
}

// page is what resetPage did.
type page struct {
	next      []byte // where the next page starts
	done      bool   // no next page
	reset     int    // entries marked unpublished
	published uint64 // entries still on the stream (see Entry.onStream)
}

// resetPage rewrites the matching entries of one page starting at pos.
// Values are collected first because a bbolt cursor is invalidated by
// writes.
func resetPage(b *bolt.Bucket, pos []byte, lost func(*Entry) bool) (page, error) {
	type kv struct{ k, v []byte }
	var updates []kv
	var p page
	c := b.Cursor()
	k, v := c.Seek(pos)
	for i := 0; k != nil && i < rewritePage; i++ {
		// Undecodable values are left alone: readers already treat them as
		// unpublished.
		e, err := decodeEntry(wire.SortPath(k), v, true)
		switch {
		case err != nil:
		case e.Seq != 0 && lost(e):
			e.Seq = 0
			nv, err := encodeEntry(e)
			if err != nil {
				return p, err
			}
			updates = append(updates, kv{bytes.Clone(k), nv})
		case e.onStream():
			p.published++
		}
		k, v = c.Next()
	}
	p.next, p.done, p.reset = bytes.Clone(k), k == nil, len(updates)
	for _, u := range updates {
		if err := b.Put(u.k, u.v); err != nil {
			return p, err
		}
	}
	return p, nil
}

// countPublished counts the entries the stream must hold, for an index
// written before the count was kept.
func countPublished(b *bolt.Bucket) uint64 {
	var n uint64
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if e, err := decodeEntry(wire.SortPath(k), v, false); err == nil && e.onStream() {
			n++
		}
	}
	return n
}
