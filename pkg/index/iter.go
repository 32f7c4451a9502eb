package index

import (
	"bytes"

	"github.com/jetsync/jetsync/pkg/wire"
	bolt "go.etcd.io/bbolt"
)

// pageSize is how many entries an iterator reads per read transaction.
// Iterators never hold a transaction while the caller works, so a slow
// consumer cannot stall bbolt's writer (which needs readers gone to grow
// the file).
var pageSize = 256

// Iter walks entries page by page. Use it as
//
//	for it.Next() { e := it.Entry() }
//	if err := it.Err(); …
type Iter struct {
	ix      *Index
	prefix  []byte
	reverse bool
	direct  bool   // children only, each child's subtree skipped
	pos     []byte // the key the next page starts at (forward) or ends before (reverse)
	started bool
	done    bool
	page    []*Entry
	cur     *Entry
	err     error
}

// Children iterates the direct children of dir ("" is the root) in name
// order, the order os.ReadDir uses. A child that has no entry of its own
// but has descendants appears with Type ""; a child with an entry and
// descendants has Subtree set (a directory, or a path that stopped being
// one before its old contents were tombstoned).
func (ix *Index) Children(dir string) *Iter {
	return &Iter{ix: ix, prefix: childPrefix(dir), direct: true}
}

// Descendants iterates every entry below dir (not dir itself) in reverse
// key order, which puts every path after all of its descendants: the order
// in which a tree can be deleted.
func (ix *Index) Descendants(dir string) *Iter {
	return &Iter{ix: ix, prefix: childPrefix(dir), reverse: true}
}

// Next advances to the next entry.
func (it *Iter) Next() bool {
	if len(it.page) == 0 && !it.done && it.err == nil {
		it.err = it.ix.db.View(it.fill)
	}
	if len(it.page) == 0 {
		it.cur = nil
		return false
	}
	it.cur, it.page = it.page[0], it.page[1:]
	return true
}

// Entry is the current entry; its Chunks and Manifest are not loaded.
func (it *Iter) Entry() *Entry { return it.cur }

// Err is the first read error.
func (it *Iter) Err() error { return it.err }

func (it *Iter) fill(tx *bolt.Tx) error {
	c := tx.Bucket(bucketEntries).Cursor()
	k, v := it.first(c)
	for k != nil && bytes.HasPrefix(k, it.prefix) && len(it.page) < pageSize {
		k, v = it.take(c, k, v)
	}
	switch {
	case k == nil || !bytes.HasPrefix(k, it.prefix):
		it.done = true
	case !it.reverse:
		it.pos = bytes.Clone(k) // the next page starts at k
	}
	return nil
}

// first positions the cursor where this page starts.
func (it *Iter) first(c *bolt.Cursor) ([]byte, []byte) {
	if !it.started {
		it.started = true
		if it.reverse {
			return seekBefore(c, endOf(it.prefix))
		}
		return c.Seek(it.prefix)
	}
	if it.reverse {
		return seekBefore(c, it.pos)
	}
	return c.Seek(it.pos)
}

// take appends the entry at k to the page and returns the next position.
func (it *Iter) take(c *bolt.Cursor, k, v []byte) ([]byte, []byte) {
	if it.reverse {
		it.page = append(it.page, decodeLenient(k, v))
		it.pos = bytes.Clone(k) // the next page ends before k
		return c.Prev()
	}
	if !it.direct {
		it.page = append(it.page, decodeLenient(k, v))
		return c.Next()
	}
	rest := k[len(it.prefix):]
	if i := bytes.IndexByte(rest, sep); i >= 0 {
		// A descendant of a child that has no entry of its own.
		child := k[:len(it.prefix)+i]
		it.page = append(it.page, &Entry{Path: wire.SortPath(child)})
		return c.Seek(after(child))
	}
	e := decodeLenient(k, v)
	it.page = append(it.page, e)
	nk, nv := c.Next()
	if nk == nil || len(nk) <= len(k) || nk[len(k)] != sep || !bytes.HasPrefix(nk, k) {
		return nk, nv // no descendants: nk is already past k's subtree
	}
	e.Subtree = true
	return c.Seek(after(k))
}

// decodeLenient turns an undecodable value into an unknown entry, which
// the source republishes and thereby repairs.
func decodeLenient(k, v []byte) *Entry {
	p := wire.SortPath(k)
	e, err := decodeEntry(p, v, false)
	if err != nil {
		return &Entry{Path: p}
	}
	return e
}

// endOf is the first key past every key starting with prefix, nil for the
// empty prefix (the end of the bucket).
func endOf(prefix []byte) []byte {
	if len(prefix) == 0 {
		return nil
	}
	// Prefixes end in sep, so raising the last byte cannot overflow.
	end := bytes.Clone(prefix)
	end[len(end)-1]++
	return end
}

// seekBefore positions c at the last key lower than k (nil k: the last key).
func seekBefore(c *bolt.Cursor, k []byte) ([]byte, []byte) {
	if k == nil {
		return c.Last()
	}
	if sk, _ := c.Seek(k); sk == nil {
		return c.Last()
	}
	return c.Prev()
}
