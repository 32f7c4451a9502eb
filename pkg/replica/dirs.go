package replica

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// markDirsDue records, in the transaction that commits the change, the
// directories whose mtime a change disturbed: the parent always, and the
// directory itself for a Dir record. The root has no record to restore.
func markDirsDue(tx *bolt.Tx, rec *wire.Record) error {
	b := tx.Bucket(bucketDirDue)
	for _, d := range []string{wire.Parent(rec.Path), rec.Path} {
		if d == "" || (d == rec.Path && rec.Type != wire.Dir) {
			continue
		}
		if err := b.Put(wire.SortKey(d), nil); err != nil {
			return err
		}
	}
	return nil
}

// flushDirs sets mode and mtime of the directories marked due, deepest
// first, once nothing is in flight: writing a child changes its
// directory's mtime, so a directory's own record cannot fix it for good.
// The marks are dropped only after the directories are set, so a kill in
// between repeats the work instead of losing it.
func (p *pipeline) flushDirs(ctx context.Context) error {
	p.barrier(ctx)
	if err := p.commit(); err != nil {
		return err
	}
	var keys [][]byte
	err := p.r.store.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDirDue).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	dirs := make([]string, len(keys))
	for i, k := range keys {
		dirs[i] = wire.SortPath(k)
	}
	sort.Slice(dirs, func(i, j int) bool { return depth(dirs[i]) > depth(dirs[j]) })
	for _, d := range dirs {
		e, err := p.r.store.applied(d)
		if err != nil || e == nil || e.Type != wire.Dir {
			continue
		}
		if err := p.applier.SetDirMeta(d, e.Mode, e.MTime); err != nil {
			p.r.applyFailed(d, err)
		}
	}
	err = p.r.store.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDirDue)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clear directories due: %w", err)
	}
	return nil
}

func depth(p string) int { return strings.Count(p, "/") }
