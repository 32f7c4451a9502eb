package replica

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// bucketLinks lists the paths of each hard-link group applied: key the
// group, a NUL, and the path's key; no value. A key may outlive its path
// (a tree removed, a crash between writes): readers check the path's
// applied entry, which is the truth.
var bucketLinks = []byte("links")

func linkKey(link, path string) []byte {
	return append(append([]byte(link), 0), wire.SortKey(path)...)
}

// putLink records path's group in the transaction that records its
// entry, dropping the group it had before.
func putLink(tx *bolt.Tx, path string, old, now string) error {
	b, err := tx.CreateBucketIfNotExists(bucketLinks)
	if err != nil {
		return err
	}
	if old != "" && old != now {
		if err := b.Delete(linkKey(old, path)); err != nil {
			return err
		}
	}
	if now == "" {
		return nil
	}
	return b.Put(linkKey(now, path), nil)
}

// dropLink forgets the group of an entry being deleted.
func dropLink(tx *bolt.Tx, path string, v []byte) error {
	b := tx.Bucket(bucketLinks)
	if b == nil {
		return nil
	}
	e, err := unmarshalApplied(v)
	if err != nil || e.Link == "" {
		return nil
	}
	return b.Delete(linkKey(e.Link, path))
}

// linkPeers returns the paths recorded in group link.
func (s *store) linkPeers(link string) ([]string, error) {
	var paths []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLinks)
		if b == nil {
			return nil
		}
		prefix := append([]byte(link), 0)
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			paths = append(paths, wire.SortPath(k[len(prefix):]))
		}
		return nil
	})
	return paths, err
}
