package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// A record that cannot be applied for a reason retrying at once will not
// fix (content nobody has, content that does not match its hash, a
// record that does not add up, a file the replica may not write) is
// parked: recorded in the store with its path, sequence and reason, and
// passed, so that it holds neither the position nor a worker and other
// paths keep flowing. It is retried with a growing backoff, read again
// from the stream where it is still its path's latest state, and dropped
// as soon as a newer state of the path is applied. Parked records count
// in the pending changes and the lag, and the status names them.

// parkAfter is how many attempts a record failing for an unknown reason
// gets before it is parked.
const parkAfter = 3

// parkable reports whether a record that failed with err on its
// attempt-th try (from 0) is to be parked. A full disk and an unreachable
// source hold the record instead, as they would any other: the replica
// waits for them in order.
func parkable(err error, attempt int) bool {
	switch {
	case fsroot.IsNoSpace(err), errors.Is(err, errSourceUnreachable):
		return false
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrCorrupt), errors.Is(err, apply.ErrChunkMissing):
		return true
	}
	return attempt+1 >= parkAfter
}

// parkRetry is when a parked record is retried after attempts failures:
// parkRetryFirst, doubling up to parkRetryMax.
func parkRetry(attempts uint64) time.Duration {
	return min(parkRetryFirst<<min(attempts, 10), parkRetryMax)
}

// (Variables so that tests can make them short.)
var (
	parkRetryFirst = 5 * time.Second
	parkRetryMax   = 10 * time.Minute
)

// retryBatch bounds the parked records retried at a time.
const retryBatch = 16

// park sets it aside: the committer records the entry with the position
// that passes it.
func (p *pipeline) park(it *item, err error) {
	now := time.Now()
	it.park = &parkedEntry{Path: it.rec.Path, Seq: it.seq, Time: it.rec.Time, Since: now.UnixNano(),
		Next: now.Add(parkRetry(0)).UnixNano(), Reason: err.Error()}
	kind := p.noteFailure(err)
	p.metrics.parkedTotal.Inc()
	p.parkDirty.Store(true)
	p.log.Warn("cannot apply this record; parked it, other paths go on", "path", it.rec.Path, "seq", it.seq,
		"kind", kind, "err", err, "retry_in", parkRetry(0))
}

// retryParked refreshes what the status says about parked records and
// starts the retries that are due. Dispatcher goroutine only.
func (p *pipeline) retryParked(ctx context.Context) error {
	now := time.Now()
	if !p.parkDirty.Swap(false) && (p.nextRetry == 0 || now.UnixNano() < p.nextRetry) &&
		now.Sub(p.lastParkScan) < parkScanEvery {
		return nil
	}
	p.lastParkScan = now
	p.mu.Lock()
	retrying := make(map[string]bool, len(p.retrying))
	for k := range p.retrying {
		retrying[k] = true
	}
	p.mu.Unlock()
	st, err := p.store.parked(now.UnixNano(), retryBatch, func(path string) bool { return retrying[path] })
	if err != nil {
		return fmt.Errorf("read parked records: %w", err)
	}
	p.prog.setParked(st)
	p.metrics.parked.Set(float64(st.count))
	p.nextRetry = st.next
	for _, e := range st.due {
		if err := p.startRetry(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// parkScanEvery refreshes the parked records' summary even when nothing
// is due, for a store changed by retries.
const parkScanEvery = 5 * time.Second

// startRetry reads e's record again and schedules it, unless a newer
// state replaced it.
func (p *pipeline) startRetry(ctx context.Context, e parkedEntry) error {
	msg, err := p.stream.GetMsg(ctx, e.Seq)
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		p.log.Debug("read parked record", "path", e.Path, "seq", e.Seq, "err", err)
		return nil // the broker is busy or away: next time
	}
	var rec *wire.Record
	if err == nil && msg.Subject == p.keys.StateSubject(p.folder, e.Path) && p.checkSigned(msg.Header, msg.Subject, msg.Data) == nil {
		if r, derr := p.keys.DecodeRecord(msg.Subject, msg.Data); derr == nil && r.Path == e.Path {
			rec = r
		}
	}
	if rec == nil || p.ancestorReplaced(ctx, e) {
		p.log.Info("dropped a parked record: a newer state replaced it", "path", e.Path, "seq", e.Seq)
		p.parkDirty.Store(true)
		return p.store.unparkSeq(e.Path, e.Seq)
	}
	it := &item{seq: e.Seq, rec: rec, retry: &e}
	p.mu.Lock()
	p.running++
	p.retrying[e.Path] = true
	p.mu.Unlock()
	p.schedule(it)
	return nil
}

// ancestorReplaced reports whether a parent of e's path has a newer state
// that is not a directory: applying e now would undo it.
func (p *pipeline) ancestorReplaced(ctx context.Context, e parkedEntry) bool {
	for a := wire.Parent(e.Path); a != ""; a = wire.Parent(a) {
		msg, err := p.stream.GetLastMsgForSubject(ctx, p.keys.StateSubject(p.folder, a))
		if err != nil || msg.Sequence < e.Seq {
			continue
		}
		if p.checkSigned(msg.Header, msg.Subject, msg.Data) != nil {
			continue // not the source's: it replaces nothing
		}
		if r, err := p.keys.DecodeRecord(msg.Subject, msg.Data); err != nil || r.Type != wire.Dir {
			return true
		}
	}
	return false
}

// applyRetry makes one more attempt at a parked record, on a worker.
func (p *pipeline) applyRetry(ctx context.Context, it *item) {
	defer p.finish(it)
	e := *it.retry
	if p.superseded(ctx, it, errRetry) {
		p.unparkLogged(e, "a newer state replaced it")
		return
	}
	err := p.apply(ctx, it)
	if err == nil {
		err = p.settleRetry(it)
	}
	if err == nil {
		p.prog.applied.Add(1)
		p.parkDirty.Store(true)
		p.log.Info("applied a parked record", "path", e.Path, "seq", e.Seq, "attempts", e.Attempts+1)
		return
	}
	if ctx.Err() != nil {
		return
	}
	if p.superseded(ctx, it, err) {
		p.unparkLogged(e, "a newer state replaced it")
		return
	}
	e.Attempts++
	e.Next = time.Now().Add(parkRetry(e.Attempts)).UnixNano()
	e.Reason = err.Error()
	kind := p.noteFailure(err)
	p.log.Warn("a parked record still cannot be applied", "path", e.Path, "seq", e.Seq, "kind", kind,
		"err", err, "attempts", e.Attempts, "retry_in", parkRetry(e.Attempts))
	if err := p.store.repark(&e); err != nil {
		p.log.Error("record parked record", "path", e.Path, "err", err)
	}
	p.parkDirty.Store(true)
}

// errRetry stands for the failure that parked a record, for superseded.
var errRetry = errors.New("parked")

// settleRetry records a parked record once applied, durable first; the
// position is not concerned: it passed the record when it was parked.
func (p *pipeline) settleRetry(it *item) error {
	p.cmu.Lock() // changes reads the reconcile's state
	defer p.cmu.Unlock()
	if err := p.syncDirs([]*item{it}); err != nil {
		return err
	}
	if err := p.store.record(p.changes([]*item{it})); err != nil {
		return fmt.Errorf("record applied parked record of %s: %w", it.rec.Path, err)
	}
	p.links.recorded([]*item{it})
	return nil
}

func (p *pipeline) unparkLogged(e parkedEntry, why string) {
	p.log.Info("dropped a parked record: "+why, "path", e.Path, "seq", e.Seq)
	if err := p.store.unparkSeq(e.Path, e.Seq); err != nil {
		p.log.Error("drop parked record", "path", e.Path, "err", err)
	}
	p.parkDirty.Store(true)
}
