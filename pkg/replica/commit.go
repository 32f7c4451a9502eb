package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

const commitEvery = 100 * time.Millisecond

func (p *pipeline) commitLoop(ctx context.Context) error {
	t := time.NewTicker(commitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := p.commit(); err != nil {
				return err
			}
		}
	}
}

// takeDone removes the finished prefix of the in-flight list: everything up
// to the first record still being applied.
func (p *pipeline) takeDone() []*item {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.inflight) && p.inflight[n].done {
		n++
	}
	done := p.inflight[:n:n]
	p.inflight = p.inflight[n:]
	if n > 0 {
		p.cond.Broadcast() // the dispatcher may wait for room (waitRoom)
	}
	return done
}

// commit records the finished prefix and the new cursor in one
// transaction. Everything in it is already durable on disk, so the cursor
// never runs ahead of the data.
func (p *pipeline) commit() error {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	done := p.takeDone()
	if len(done) == 0 {
		return nil
	}
	if err := p.syncDirs(done); err != nil {
		// Not durable: the records are applied again after a restart.
		p.mu.Lock()
		p.inflight = append(done, p.inflight...)
		p.mu.Unlock()
		return err
	}
	p.pos.Cursor = done[len(done)-1].seq
	if !p.reconciling {
		p.pos.Epoch = max(p.pos.Epoch, p.epoch)
	}
	err := p.r.store.db.Update(func(tx *bolt.Tx) error {
		for _, it := range done {
			if err := p.record(tx, it); err != nil {
				return err
			}
		}
		return p.r.store.setPosition(tx, p.savedPosition())
	})
	if err != nil {
		return fmt.Errorf("commit position %d: %w", p.pos.Cursor, err)
	}
	p.r.prog.setPosition(p.pos.Cursor)
	p.r.prog.epoch.Store(p.pos.Epoch)
	p.r.prog.setLag(p.oldestTime())
	return nil
}

// syncDirs makes the directory entries the items changed durable, each
// directory once, before their position is recorded.
func (p *pipeline) syncDirs(items []*item) error {
	seen := make(map[string]bool)
	for _, it := range items {
		for _, d := range it.syncDirs {
			if seen[d] {
				continue
			}
			seen[d] = true
			if err := p.r.root.SyncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("sync directory: %w", err)
			}
		}
	}
	return nil
}

// savedPosition is the position to persist: during a reconcile the cursor
// stays at 0 so that an interrupted reconcile starts over.
func (p *pipeline) savedPosition() position {
	if p.reconciling {
		return position{}
	}
	return p.pos
}

func (p *pipeline) record(tx *bolt.Tx, it *item) error {
	if it.rec == nil || it.skip {
		return nil
	}
	if it.deferred {
		return tx.Bucket(bucketSeen).Put(wire.SortKey(it.rec.Path), nil)
	}
	if err := markDirsDue(tx, it.rec); err != nil {
		return err
	}
	if p.reconciling && it.rec.Type != wire.Deleted {
		if err := tx.Bucket(bucketSeen).Put(wire.SortKey(it.rec.Path), nil); err != nil {
			return err
		}
	}
	if it.rec.Type == wire.Deleted || it.entry == nil {
		return deleteTree(tx, it.rec.Path)
	}
	if err := tx.Bucket(bucketApplied).Put(wire.SortKey(it.rec.Path), it.entry.marshal()); err != nil {
		return err
	}
	return putChunkLocs(tx, it.rec.Path, it.chunks)
}

// oldestTime is the publish time of the oldest record not yet applied.
func (p *pipeline) oldestTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range p.inflight {
		if it.rec != nil && it.rec.Time > 0 {
			return time.Unix(0, it.rec.Time)
		}
	}
	return time.Time{}
}

// markCaughtUp records that everything published so far is applied, at
// most every few seconds: it bounds how old a missed tombstone can be.
func (p *pipeline) markCaughtUp() error {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	now := time.Now().UnixNano()
	if p.reconciling {
		return nil
	}
	p.liveCaughtUp = now
	if now-p.pos.CaughtUp < int64(caughtUpEvery) {
		return nil
	}
	p.pos.CaughtUp = now
	err := p.r.store.db.Update(func(tx *bolt.Tx) error { return p.r.store.setPosition(tx, p.pos) })
	if err != nil {
		return fmt.Errorf("record caught-up time: %w", err)
	}
	return nil
}

const caughtUpEvery = 5 * time.Second
