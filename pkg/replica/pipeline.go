package replica

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/wire"
)

// item is one record on its way through the pipeline.
type item struct {
	seq  uint64
	rec  *wire.Record // nil for a message that failed to decode
	done bool
	// set by the worker when done; nil entry with rec.Type Deleted (or a
	// superseded record) means "forget this path"
	entry    *appliedEntry
	chunks   []wire.ChunkRef
	syncDirs []string // directories to sync before the record counts as applied
	skip     bool     // nothing to record (bad or superseded message)
	// deferred: held back until the reconcile's state is whole (see
	// deferStale); only its path is recorded as seen.
	deferred bool
}

// pipeline is one session's machinery: the in-order list of records in
// flight, the per-path worker queues, and the position it commits.
type pipeline struct {
	r       *Replica
	stream  jetstream.Stream
	applier *apply.Applier
	// cmu serialises commits and guards pos, epoch and reconciling, which
	// the committer reads and the dispatcher changes.
	cmu   sync.Mutex
	pos   position
	epoch uint64 // epoch this session trusts
	// liveCaughtUp is the last time everything published was applied, as
	// pos.CaughtUp but not throttled: pos.CaughtUp is persisted at most
	// every caughtUpEvery, which may be longer than the tombstone TTL.
	liveCaughtUp int64
	queues       []chan *item
	seed         maphash.Seed

	mu       sync.Mutex
	cond     *sync.Cond
	inflight []*item // in stream order
	running  int     // dispatched, not finished
	lastSeen uint64

	caughtUp    bool // dispatcher goroutine only
	reconciling bool
	maxEpoch    uint64
	// Set when a reconcile may find states the source is about to replace
	// (after a broker loss): records up to suspectLast that would change
	// a local path are held back in deferred (dispatcher goroutine only),
	// and the reconcile does not end before the folder meta reaches
	// needEpoch.
	suspectLast uint64
	needEpoch   uint64
	deferred    []*item
	// dispatcher goroutine only: pacing of stateWhole
	lastStateCheck  time.Time
	waitedForSource bool
}

func newPipeline(r *Replica, stream jetstream.Stream, pos position, metaEpoch uint64) *pipeline {
	p := &pipeline{r: r, stream: stream, pos: pos, epoch: max(pos.Epoch, metaEpoch),
		seed: maphash.MakeSeed(), maxEpoch: metaEpoch, lastSeen: pos.Cursor}
	p.cond = sync.NewCond(&p.mu)
	p.applier = &apply.Applier{Root: r.root, Local: r.store,
		Content: brokerContent{stream: stream, folder: r.cfg.Folder}}
	p.queues = make([]chan *item, r.cfg.Workers)
	for i := range p.queues {
		p.queues[i] = make(chan *item, 64)
	}
	r.prog.setPosition(pos.Cursor)
	r.prog.epoch.Store(pos.Epoch)
	return p
}

func (p *pipeline) queueOf(path string) int {
	return int(maphash.String(p.seed, path) % uint64(len(p.queues)))
}

func (p *pipeline) closeQueues() {
	for _, q := range p.queues {
		close(q)
	}
}

func (p *pipeline) enqueue(seq uint64, rec *wire.Record) *item {
	it := &item{seq: seq, rec: rec}
	p.mu.Lock()
	p.inflight = append(p.inflight, it)
	p.running++
	p.lastSeen = max(p.lastSeen, seq)
	p.mu.Unlock()
	return it
}

// finish marks it done and wakes whoever waits for the pipeline to drain.
func (p *pipeline) finish(it *item) {
	p.mu.Lock()
	it.done = true
	p.running--
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipeline) inflightCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// barrier waits until every dispatched record is finished.
func (p *pipeline) barrier(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	for p.running > 0 && ctx.Err() == nil {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

func (p *pipeline) worker(ctx context.Context, q <-chan *item) {
	for it := range q {
		if ctx.Err() != nil {
			continue // leave it unfinished: not applied, not committed
		}
		p.applyItem(ctx, it)
	}
}

// applyItem applies one record, retrying with backoff until it is durable
// or superseded; it never marks a record done that was not applied.
func (p *pipeline) applyItem(ctx context.Context, it *item) {
	for attempt := 0; ; attempt++ {
		err := p.apply(ctx, it)
		if err == nil {
			p.r.prog.applied.Add(1)
			if it.rec.Type == wire.File {
				p.r.prog.files.Add(1)
				p.r.prog.bytes.Add(it.rec.Size)
			}
			p.finish(it)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if p.superseded(ctx, it, err) {
			it.skip = true
			p.finish(it)
			return
		}
		p.r.applyFailed(it.rec.Path, err)
		sleep(ctx, backoff(attempt))
	}
}
