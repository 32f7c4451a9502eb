package replica

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/bus"

	"github.com/jetsync/jetsync/pkg/wire"
)

// startReconcile reads the whole published state from the first message
// and remembers every live path in the seen bucket; finishReconcile then
// removes whatever the local tree has beyond it.
func (p *pipeline) startReconcile() error {
	p.reconciling = true
	p.pos.Cursor = 0
	p.lastSeen = 0
	p.r.prog.setState("reconciling")
	err := p.r.store.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSeen) != nil {
			if err := tx.DeleteBucket(bucketSeen); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucket(bucketSeen)
		return err
	})
	if err != nil {
		return fmt.Errorf("start reconcile: %w", err)
	}
	return nil
}

// stateWhole reports whether everything the source will publish for this
// epoch is in the stream and read: the folder meta no longer says Partial
// (the source's full scan after the epoch change is done and acknowledged)
// and nothing newer than what we handled is in the stream. Until then a
// path missing from the stream may only not be republished yet, and must
// not be deleted. Checked at most every stateCheckEvery.
func (p *pipeline) stateWhole(ctx context.Context) (bool, error) {
	if time.Since(p.lastStateCheck) < stateCheckEvery {
		return false, nil
	}
	p.lastStateCheck = time.Now()
	meta, err := readMeta(ctx, p.stream, p.r.cfg.Folder)
	if err != nil {
		return false, err
	}
	if meta.Partial {
		if !p.waitedForSource {
			p.r.log.Info("the source is still publishing its full state; keeping local paths it has not published yet")
			p.waitedForSource = true
		}
		return false, nil
	}
	last, err := bus.LastStateSeq(ctx, p.stream, p.r.cfg.Folder)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastSeen >= last, nil
}

const stateCheckEvery = 500 * time.Millisecond

// finishReconcile deletes local paths absent from the published state and
// adopts the stream's identity and epoch as the new trusted position.
func (p *pipeline) finishReconcile(ctx context.Context) error {
	removed, err := p.removeUnseen()
	if err != nil {
		return err
	}
	if err := p.flushDirs(ctx); err != nil { // removals changed their parents' mtimes
		return err
	}
	info, err := p.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read stream info: %w", err)
	}
	p.cmu.Lock()
	defer p.cmu.Unlock()
	p.reconciling = false
	p.epoch = max(p.epoch, p.maxEpoch)
	p.pos.Epoch = p.epoch
	p.r.prog.epoch.Store(p.epoch)
	p.pos.Created = info.Created.UnixNano()
	p.pos.CaughtUp = time.Now().UnixNano()
	p.mu.Lock()
	p.pos.Cursor = max(p.pos.Cursor, p.lastSeen)
	p.mu.Unlock()
	err = p.r.store.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSeen); err != nil {
			return err
		}
		return p.r.store.setPosition(tx, p.pos)
	})
	if err != nil {
		return fmt.Errorf("finish reconcile: %w", err)
	}
	p.r.prog.setPosition(p.pos.Cursor)
	p.r.prog.setState("live")
	p.r.prog.reconciled.Store(true)
	p.r.log.Info("reconcile done", "removed_extra", removed, "position", p.pos.Cursor, "epoch", p.epoch)
	return nil
}

// removeUnseen walks the local tree and removes every path the published
// state does not have. A removed directory takes its subtree with it.
func (p *pipeline) removeUnseen() (int, error) {
	var extra []string
	err := p.r.store.db.View(func(tx *bolt.Tx) error {
		seen := tx.Bucket(bucketSeen)
		return p.r.root.Walk(func(path string, d fs.DirEntry) error {
			if seen.Get(pathKey(path)) != nil {
				return nil
			}
			extra = append(extra, path)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("walk local tree: %w", err)
	}
	for _, path := range extra {
		if err := p.r.root.RemoveAll(path); err != nil {
			return 0, err
		}
		err := p.r.store.db.Update(func(tx *bolt.Tx) error {
			if err := deleteTree(tx, path); err != nil {
				return err
			}
			return markDirsDue(tx, &wire.Record{Path: path, Type: wire.Deleted})
		})
		if err != nil {
			return 0, err
		}
		p.r.metrics.removedExtra.Inc()
	}
	return len(extra), nil
}
