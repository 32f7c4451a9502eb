package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/jetsync/jetsync/pkg/fsroot"
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
	p.prog.inflight.Store(int64(len(p.inflight)))
	p.prog.finished.Add(int64(n))
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
		p.prog.inflight.Store(int64(len(p.inflight)))
		p.prog.finished.Add(-int64(len(done)))
		p.mu.Unlock()
		return err
	}
	p.pos.Cursor = done[len(done)-1].seq
	if !p.reconciling {
		p.pos.Epoch = max(p.pos.Epoch, p.epoch)
	}
	if err := p.store.commit(p.changes(done), p.savedPosition()); err != nil {
		return fmt.Errorf("commit position %d: %w", p.pos.Cursor, err)
	}
	p.committed(done)
	p.links.recorded(done)
	p.prog.setPosition(p.pos.Cursor)
	p.prog.epoch.Store(p.pos.Epoch)
	p.prog.setLag(p.oldestTime())
	p.observeLatency(done)
	return nil
}

// observeLatency records, for the live records just made durable, how long
// after their publication that was. A reconcile's records are old states
// read again, not changes on their way.
func (p *pipeline) observeLatency(done []*item) {
	if p.reconciling {
		return
	}
	now := time.Now()
	for _, it := range done {
		if it.rec != nil && !it.skip && it.park == nil && it.rec.Time > 0 {
			p.metrics.latency.Observe(max(0, now.Sub(time.Unix(0, it.rec.Time)).Seconds()))
		}
	}
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
			if err := p.root.SyncDir(d); err != nil && !gone(err) {
				return fmt.Errorf("sync directory: %w", err)
			}
		}
	}
	return nil
}

// gone reports an error syncing a directory that is not there any more,
// or not as a directory: a later record replaced or removed it, and what
// was written in it went with it, so there is nothing to make durable.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fsroot.ErrNotDir) || errors.Is(err, syscall.ENOTDIR)
}

// savedPosition is the position to persist: during a reconcile the cursor
// stays at 0 so that an interrupted reconcile starts over.
func (p *pipeline) savedPosition() position {
	if p.reconciling {
		return position{}
	}
	return p.pos
}

// changes is what the index must record for items: the records that were
// applied or held back, in stream order.
func (p *pipeline) changes(items []*item) []change {
	out := make([]change, 0, len(items))
	for _, it := range items {
		if c, ok := p.changeOf(it); ok {
			out = append(out, c)
		}
	}
	return out
}

// changeOf is what the index must record for it; false when nothing (a bad
// or superseded message). During a reconcile every path still published
// is marked seen, so that the reconcile keeps it, and so is every path
// the source excluded: the replica leaves those on disk.
func (p *pipeline) changeOf(it *item) (change, bool) {
	if it.rec == nil && it.unknown != "" && p.reconciling {
		return change{unknown: it.unknown}, true
	}
	if it.bad && p.reconciling {
		// Unknown, not absent: the reconcile keeps the path as it is.
		return change{rec: it.rec, seq: it.seq, heldBack: true}, true
	}
	if it.rec == nil || it.skip {
		return change{}, false
	}
	return change{rec: it.rec, seq: it.seq, entry: it.entry, chunks: it.chunks, heldBack: it.deferred,
		park: it.park, seen: p.reconciling && (it.rec.Type != wire.Deleted || it.rec.Excluded)}, true
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
	if err := p.store.setPosition(p.pos); err != nil {
		return fmt.Errorf("record caught-up time: %w", err)
	}
	return nil
}

const caughtUpEvery = 5 * time.Second
