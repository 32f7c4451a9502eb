package index

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// rewritePage bounds the entries rewritten per transaction, so recovering
// a huge tree does not build one huge transaction in memory.
var rewritePage = 10000

// Lost says what MarkLost or ResetAll forgot.
type Lost struct {
	Entries int // entries marked unpublished
	Chunks  int // chunks no longer recorded as on the broker
}

// MarkLost handles a broker that lost the tail of the stream after lastSeq:
// chunks published after lastSeq are forgotten, and every entry published
// after lastSeq or referencing a forgotten chunk is marked unpublished
// (Seq 0). Entries go first: if this is interrupted, running it again
// finds the same chunks and finishes the job.
func (ix *Index) MarkLost(lastSeq uint64) (Lost, error) {
	lost, err := ix.chunksAfter(lastSeq)
	if err != nil {
		return Lost{}, err
	}
	n, err := ix.resetEntries(func(e *Entry) bool {
		return e.Seq > lastSeq || refsAny(e.Chunks, lost) || refsAny(e.Manifest, lost)
	})
	if err != nil {
		return Lost{}, err
	}
	if err := ix.deleteChunks(lost); err != nil {
		return Lost{}, err
	}
	return Lost{Entries: n, Chunks: len(lost)}, nil
}

// ResetAll handles a broker that lost the whole stream: every entry is
// marked unpublished and the chunk bucket is emptied.
func (ix *Index) ResetAll() (Lost, error) {
	n, err := ix.resetEntries(func(*Entry) bool { return true })
	if err != nil {
		return Lost{}, err
	}
	var chunks int
	err = ix.db.Update(func(tx *bolt.Tx) error {
		chunks = tx.Bucket(bucketChunks).Stats().KeyN
		if err := tx.DeleteBucket(bucketChunks); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketChunks)
		return err
	})
	if err != nil {
		return Lost{}, fmt.Errorf("clear index chunks: %w", err)
	}
	return Lost{Entries: n, Chunks: chunks}, nil
}

func (ix *Index) chunksAfter(lastSeq uint64) (map[wire.Hash]struct{}, error) {
	lost := make(map[wire.Hash]struct{})
	err := ix.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			if len(k) == len(wire.Hash{}) && (len(v) != 8 || binary.BigEndian.Uint64(v) > lastSeq) {
				lost[wire.Hash(k)] = struct{}{}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read index chunks: %w", err)
	}
	return lost, nil
}

func refsAny(refs []wire.ChunkRef, set map[wire.Hash]struct{}) bool {
	if len(set) == 0 {
		return false
	}
	for _, r := range refs {
		if _, ok := set[r.Hash]; ok {
			return true
		}
	}
	return false
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
		if e, err := decodeEntry(pathOf(k), v, true); err == nil && e.Seq != 0 && lost(e) {
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

func (ix *Index) deleteChunks(set map[wire.Hash]struct{}) error {
	hashes := make([]wire.Hash, 0, len(set))
	for h := range set {
		hashes = append(hashes, h)
	}
	for len(hashes) > 0 {
		page := hashes[:min(len(hashes), rewritePage)]
		hashes = hashes[len(page):]
		err := ix.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketChunks)
			for _, h := range page {
				if err := b.Delete(h[:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("forget lost chunks: %w", err)
		}
	}
	return nil
}
