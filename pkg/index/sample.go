package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// sampleReach bounds how many entries PublishedAfter reads for each one it
// may return, so that a stretch of tombstones or unpublished entries
// costs a bounded read.
const sampleReach = 8

// PublishedAfter returns up to n entries the stream must hold (files,
// directories and symlinks the broker acknowledged), in key order after
// the entry of path ("" starts at the first entry), and the path to go on
// after next time, "" once the end is reached. It reads at most 8n
// entries, so it may return fewer than n before the end. The entries have
// no chunk lists. The broker check walks the index with it, a bounded
// sample at a time.
func (ix *Index) PublishedAfter(path string, n int) ([]*Entry, string, error) {
	var out []*Entry
	next := ""
	err := ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		k, v := c.First()
		if path != "" {
			start := wire.SortKey(path)
			if k, v = c.Seek(start); k != nil && string(k) == string(start) {
				k, v = c.Next()
			}
		}
		for read := 0; k != nil && len(out) < n && read < sampleReach*n; read++ {
			if e, err := decodeEntry(wire.SortPath(k), v, false); err == nil && e.onStream() {
				out = append(out, e)
			}
			next = wire.SortPath(k)
			k, v = c.Next()
		}
		if k == nil {
			next = ""
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("read index: %w", err)
	}
	return out, next, nil
}
