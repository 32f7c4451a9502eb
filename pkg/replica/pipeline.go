package replica

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/seal"
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
	// scheduled: handed to the workers through schedule (not applied by
	// the dispatcher itself), so finishing it releases its claim.
	scheduled bool
	// park: it could not be applied and is set aside (see park.go); the
	// committer records the entry.
	park *parkedEntry
	// retry: a parked record read again to retry it. It is not in the
	// in-flight list: the position passed it when it was parked.
	retry *parkedEntry
	// unknown: for a message that failed to decode, the token of the
	// state subject it came on (its path's state is unknown).
	unknown string
	// bad: a record found malformed as it was applied (skipped; its
	// path's state is unknown, like an unreadable message's).
	bad bool
}

// Bounds of the pipeline. A record waits in the dispatcher while
// maxRunning records are dispatched and unfinished, or while maxInflight
// records are not yet committed: finished records stay in memory until
// every record before them has finished. A big file being applied thus
// holds up at most maxInflight records behind it. More was measured to
// cost: with 16,384, a bulk sync read small records and big-file chunks
// from the broker at once, which grew the broker's block cache (source
// process 285 -> 380-520 MB) and slowed the two-box `mixed` sync by a
// quarter.
// (Variables so that tests can make them small.)
var (
	maxRunning  = 256
	maxInflight = 512
)

// pipeline is one session's machinery: the in-order list of records in
// flight, the queue of records ready to apply, and the position it
// commits. Records of one path are applied one at a time, in stream order,
// as are records of a path and of what lies beneath it when one of them
// replaces or removes the other's parent; other records in any order and
// in parallel, so a slow big file holds up only later records of its own
// path.
type pipeline struct {
	// What the session works with, taken from its Replica: the pipeline
	// needs no more of it.
	store         *store
	root          *fsroot.Root
	log           *slog.Logger
	metrics       *metrics
	prog          *progress
	folder        string
	id            string     // the replica's id, which names its consumer
	conn          *nats.Conn // watched for reconnects
	checkInterval time.Duration
	workers       int
	readMeta      func(context.Context, jetstream.Stream) (wire.Meta, error) // Replica.readMeta
	excluded      func() *exclude.Matcher                                    // Replica.excluded
	repair        <-chan int                                                 // Replica.repair

	stream  jetstream.Stream
	applier *apply.Applier
	links   *linker
	// checkSig is Replica.checkSigned. signed says whether only the
	// source (it checks signatures) or a holder of the folder's key (the
	// folder is encrypted) can have made a record: then replays are
	// refused (see replay.go).
	checkSig func(h nats.Header, subject string, data []byte) error
	signed   bool
	keys     *seal.FolderKeys // Replica.keys
	// cmu serialises commits and guards pos, epoch and reconciling, which
	// the committer reads and the dispatcher changes.
	cmu   sync.Mutex
	pos   position
	epoch uint64 // epoch this session trusts
	// broker is what the broker said at the last check (dispatcher only).
	broker brokerState
	// liveCaughtUp is the last time everything published was applied, as
	// pos.CaughtUp but not throttled: pos.CaughtUp is persisted at most
	// every caughtUpEvery, which may be longer than the tombstone TTL.
	liveCaughtUp int64

	mu       sync.Mutex
	cond     *sync.Cond
	inflight []*item // in stream order
	running  int     // dispatched, not finished
	lastSeen uint64
	sched    scheduler // which scheduled records the workers may take
	closed   bool      // no more records will be scheduled

	caughtUp    bool   // dispatcher goroutine only
	delivered   uint64 // the consumer's last delivery sequence (dispatcher goroutine only)
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
	lastStateCheck time.Time
	waitingSince   time.Time // since when the reconcile waits for the source (zero: it does not)

	// Parked records (see park.go): retrying holds the paths whose retry
	// is scheduled (guarded by mu); parkDirty asks the dispatcher to read
	// the store's parked set again; nextRetry and lastParkScan pace it
	// (dispatcher goroutine only).
	retrying  map[string]bool
	parkDirty atomic.Bool
	// pending holds the records accepted and not yet committed, by path,
	// for the replay check (see replay.go; guarded by mu).
	pending      map[string]pendingTime
	nextRetry    int64
	lastParkScan time.Time
}

// newPipeline makes a session's pipeline at pos, trusting at least the
// epoch the folder meta announced.
func newPipeline(r *Replica, stream jetstream.Stream, pos position, metaEpoch uint64) *pipeline {
	p := &pipeline{store: r.store, root: r.root, log: r.log, metrics: r.metrics, prog: &r.prog,
		folder: r.cfg.Folder, id: r.cfg.ID, conn: r.js.Conn(), checkInterval: r.cfg.CheckInterval, workers: r.cfg.Workers,
		readMeta: r.readMeta, excluded: r.excluded, repair: r.repair,
		stream: stream, pos: pos, epoch: max(pos.Epoch, metaEpoch),
		maxEpoch: metaEpoch, lastSeen: pos.Cursor, sched: newScheduler(),
		retrying: make(map[string]bool), links: newLinker(), checkSig: r.checkSigned, signed: r.cfg.SourceKey != nil || r.keys != nil, keys: r.keys}
	p.parkDirty.Store(true)
	p.cond = sync.NewCond(&p.mu)
	p.applier = &apply.Applier{Root: p.root, Local: p.store,
		Content: newFetcher(r, stream), Known: p.knownHash, Placed: p.placed, Attrs: r.attrs}
	p.prog.setPosition(pos.Cursor)
	p.prog.epoch.Store(pos.Epoch)
	return p
}

// closeQueue tells the workers that nothing more will be scheduled.
func (p *pipeline) closeQueue() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// schedule hands it to the workers: at once unless an earlier unfinished
// record conflicts with it (see scheduler), else once those are done.
func (p *pipeline) schedule(it *item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it.scheduled = true
	p.sched.add(it)
	p.cond.Broadcast()
}

// next waits for a released record; nil once the queue is closed and
// empty or ctx ends.
func (p *pipeline) next(ctx context.Context) *item {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.sched.ready) == 0 && !p.closed && ctx.Err() == nil {
		p.cond.Wait()
	}
	if ctx.Err() != nil {
		return nil
	}
	return p.sched.take()
}

// waitRoom waits until the bounds let one more record in.
func (p *pipeline) waitRoom(ctx context.Context) {
	full := func() bool { return p.running >= maxRunning || len(p.inflight) >= maxInflight }
	p.mu.Lock()
	if !full() {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	stop := p.wakeOnDone(ctx)
	defer stop()
	p.mu.Lock()
	for full() && ctx.Err() == nil {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// wakeOnDone wakes every waiter on p.cond when ctx ends.
func (p *pipeline) wakeOnDone(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
}

func (p *pipeline) enqueue(seq uint64, rec *wire.Record) *item {
	it := &item{seq: seq, rec: rec}
	p.mu.Lock()
	p.inflight = append(p.inflight, it)
	p.prog.inflight.Store(int64(len(p.inflight)))
	p.running++
	p.lastSeen = max(p.lastSeen, seq)
	p.mu.Unlock()
	return it
}

// finish marks it done, schedules the next record of its path and wakes
// whoever waits for the pipeline to drain or for room.
func (p *pipeline) finish(it *item) {
	p.mu.Lock()
	it.done = true
	p.running--
	if it.rec != nil && !it.deferred {
		// Applied: only the path and metadata are committed. A held-back
		// record is applied later by applyDeferred and keeps the content
		// of an inline file until then.
		it.rec.Data = nil
	}
	if it.scheduled {
		p.sched.done(it)
	}
	if it.retry != nil {
		delete(p.retrying, it.rec.Path)
	}
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
	stop := p.wakeOnDone(ctx)
	defer stop()
	p.mu.Lock()
	for p.running > 0 && ctx.Err() == nil {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// worker applies ready records until the queue is closed or ctx ends; a
// record left when ctx ends stays unfinished: not applied, not committed.
// It returns the error that ends the session when a record it holds
// finds the position no longer valid.
func (p *pipeline) worker(ctx context.Context) error {
	stop := p.wakeOnDone(ctx)
	defer stop()
	for {
		it := p.next(ctx)
		if it == nil {
			return nil
		}
		if it.retry != nil {
			p.applyRetry(ctx, it)
			continue
		}
		if err := p.applyItem(ctx, it); err != nil {
			return err
		}
	}
}

// applyItem applies one record, retrying with backoff until it is durable,
// superseded, parked or found bad; it never marks a record done that was
// neither applied nor parked. While it holds a record (a full disk, a
// source away), it asks the broker whether the position is still valid,
// and returns the verdict that ends the session if not.
func (p *pipeline) applyItem(ctx context.Context, it *item) error {
	for attempt := 0; ; attempt++ {
		err := p.apply(ctx, it)
		if err == nil {
			p.prog.applied.Add(1)
			if it.rec.Type == wire.File {
				p.prog.files.Add(1)
				p.prog.bytes.Add(it.rec.Size)
			}
			p.finish(it)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if p.badRecord(it.rec.Path, err) {
			it.skip, it.bad = true, true
			p.finish(it)
			return nil
		}
		if p.superseded(ctx, it, err) {
			it.skip = true
			p.finish(it)
			return nil
		}
		if parkable(err, attempt) {
			p.park(it, err)
			p.finish(it)
			return nil
		}
		p.applyFailed(it.rec.Path, err)
		if attempt >= 1 {
			if err := p.stillValid(ctx); err != nil {
				return err
			}
		}
		sleep(ctx, backoff(attempt))
	}
}
