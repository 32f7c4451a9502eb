package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/wire"
)

// errReconnected ends a session after the connection to the broker was
// re-established, possibly on another cluster node: the consumer is made
// again at once instead of after it misses its heartbeats, and a consumer
// left on a dead node cannot hold the replica up.
var errReconnected = errors.New("reconnected to the broker")

// errDeliveryGap ends a session that missed a message of its consumer.
var errDeliveryGap = errors.New("a message of the stream was lost on its way")

// reconnectPoll is how often a session looks for a reconnect.
const reconnectPoll = 250 * time.Millisecond

// session follows the stream from the stored position (or reconciles from
// the start) until ctx ends or the position becomes invalid. carried is
// the verdict that ended the previous session, if one did.
func (r *Replica) session(ctx context.Context, carried verdict) error {
	stream, err := r.openStream(ctx)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read stream info: %w", err)
	}
	pos, err := r.store.position()
	if err != nil {
		return fmt.Errorf("read position: %w", err)
	}
	meta, err := r.readMeta(ctx, stream)
	if err != nil {
		return err
	}
	s := newPipeline(r, stream, pos, meta.Epoch)
	s.broker = brokerOf(info, meta)
	v := judge(s.standing(true), s.broker, time.Now())
	if v.ok() {
		v = carried
	}
	if !v.ok() {
		r.log.Info("reconciling against the full published state", "reason", v.reason)
		if sameStream := info.Created.UnixNano() == pos.Created; sameStream && (v.loss || meta.Partial) {
			// What the stream held before the replica's position may be
			// older than what the replica applied since (a recreated
			// stream holds only what the source published into it). After
			// a lost tail the source republishes under a new epoch, and
			// until then the stream is not its state.
			s.suspectLast = min(info.State.LastSeq, pos.Cursor)
			if v.loss {
				s.needEpoch = pos.Epoch + 1
			}
		}
		if err := s.startReconcile(); err != nil {
			return err
		}
	} else {
		r.prog.setState("live")
		r.prog.reconciled.Store(true)
	}
	return s.run(ctx)
}

func (r *Replica) openStream(ctx context.Context) (jetstream.Stream, error) {
	waiting := false
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := bus.OpenStream(actx, r.js, r.cfg.Folder)
		cancel()
		switch {
		case err == nil:
			return s, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, bus.ErrNoFolder):
			if !waiting {
				r.log.Info("waiting for the source to create the folder on the broker")
			}
			waiting = true
			// Not sooner than 250 ms, even beside a source that creates
			// the folder at once: a replica reading the stream's tail
			// while the source writes its first blocks costs both of
			// them CPU (starting 230 ms earlier made `run --once` on
			// the bench's small tree 10 % slower, with 20-35 % more
			// CPU).
			sleep(ctx, min(time.Second, backoff(attempt)))
		default:
			r.log.Warn("cannot open the folder stream, retrying", "err", err, "attempt", attempt+1)
			sleep(ctx, backoff(attempt))
		}
	}
}

// brokerOf is what the stream's info and the folder meta say.
func brokerOf(info *jetstream.StreamInfo, meta wire.Meta) brokerState {
	return brokerState{created: info.Created.UnixNano(), lastSeq: info.State.LastSeq, epoch: meta.Epoch,
		tombstoneTTL: meta.TombstoneTTL}
}

// standing is what this session trusts about its position; atStart is set
// for the check before the session reads anything. It runs on the
// dispatcher's goroutine (or before the session's goroutines start), the
// only writer of every field it reads but the cursor and the position's
// epoch, which the committer writes and which it reads only at start: it
// takes no lock, so the dispatcher never waits for a commit to judge a
// record.
func (p *pipeline) standing(atStart bool) standing {
	s := standing{atStart: atStart, lastSeen: p.lastSeen, created: p.pos.Created, epoch: p.epoch,
		caughtUp: max(p.pos.CaughtUp, p.liveCaughtUp), reconciling: p.reconciling}
	if atStart {
		s.cursor, s.epoch = p.pos.Cursor, p.pos.Epoch // p.epoch already includes the meta's
	}
	return s
}

// restartUnless ends the session with the verdict on the broker's state b,
// unless the position is still valid.
func (p *pipeline) restartUnless(b brokerState) error {
	if v := judge(p.standing(false), b, time.Now()); !v.ok() {
		return &restartError{v}
	}
	return nil
}

// readMeta reads the folder meta. One that cannot be read (anything but a
// newer version, which stops the replica as a newer record does) is
// rejected and counted once, and the last good one stands: the zero meta
// if there was none, which claims nothing (no epoch, so no reconcile
// ends on it).
func (r *Replica) readMeta(ctx context.Context, stream jetstream.Stream) (wire.Meta, error) {
	msg, err := stream.GetLastMsgForSubject(ctx, wire.MetaSubject(r.cfg.Folder))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return wire.Meta{}, nil
	}
	if err != nil {
		return wire.Meta{}, fmt.Errorf("read folder meta: %w", err)
	}
	m, err := r.keys.DecodeMeta(r.cfg.Folder, msg.Data)
	if serr := r.checkSigned(msg.Header, msg.Subject, msg.Data); serr != nil {
		err = serr
	}
	r.metaMu.Lock()
	defer r.metaMu.Unlock()
	switch {
	case errors.Is(err, seal.ErrKeyMismatch):
		// Nothing of the folder can be read (or, with a key on a plain
		// folder, trusted to be what encryption promised): apply
		// nothing, delete nothing, until the right key is given.
		r.metrics.errors.WithLabelValues("encryption_key").Inc()
		return wire.Meta{}, fmt.Errorf("read folder meta: %w", err)
	case errors.Is(err, wire.ErrVersion):
		return wire.Meta{}, fmt.Errorf("read folder meta: %w; upgrade jetsync on this replica", err)
	case err == nil:
		if _, cerr := exclude.Compile(m.Exclude); cerr != nil {
			err = fmt.Errorf("%w: %v", wire.ErrMalformed, cerr)
		}
	}
	if err != nil {
		if r.badMetaSeq != msg.Sequence {
			r.badMetaSeq = msg.Sequence
			r.prog.noteError(err)
			r.metrics.errors.WithLabelValues("bad_message").Inc()
			r.log.Error("rejected folder meta; keeping the last good one", "subject", msg.Subject, "seq", msg.Sequence,
				"err", err, "epoch", r.goodMeta.Epoch)
		}
		return r.goodMeta, nil
	}
	r.goodMeta = m
	return m, nil
}

// excluded is the matcher of the last good folder meta's patterns.
func (r *Replica) excluded() *exclude.Matcher {
	r.metaMu.Lock()
	defer r.metaMu.Unlock()
	m, _ := exclude.Compile(r.goodMeta.Exclude) // checked by readMeta
	return m
}

// run wires consumer → dispatcher → workers → committer.
func (p *pipeline) run(ctx context.Context) error {
	cons, err := p.consumer(ctx)
	if err != nil {
		return err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read consumer info: %w", err)
	}
	p.caughtUp = ci.NumPending == 0
	p.prog.pending.Store(ci.NumPending)
	p.prog.inflight.Store(0) // what a previous session had in flight is delivered again
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("start consuming: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	msgs := make(chan jetstream.Msg, 256)
	g.Go(func() error { return pump(gctx, it, msgs) })
	for range p.workers {
		g.Go(func() error { return p.worker(gctx) })
	}
	g.Go(func() error { return p.commitLoop(gctx) })
	g.Go(func() error { defer p.closeQueue(); return p.dispatch(gctx, msgs) })
	err = g.Wait()
	it.Stop()
	if cerr := p.commit(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// consumer makes the session's consumer: named after the replica and
// described, so that `nats consumer report` and dashboards show one line
// per replica, and made anew at each session (its start is the replica's
// position, which only the replica knows), replacing the previous
// session's. It acknowledges nothing (the replica keeps its position in
// its own index) and lives in memory on one node; the broker drops it
// after consumerIdle without a replica pulling from it.
func (p *pipeline) consumer(ctx context.Context) (jetstream.Consumer, error) {
	name := ConsumerName(p.id)
	if err := p.stream.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("remove the previous session's consumer %s: %w", name, err)
	}
	cons, err := p.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Name:              name,
		Description:       fmt.Sprintf("jetsync replica %s of folder %s", p.id, p.folder),
		FilterSubject:     wire.StateFilter(p.folder),
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       p.pos.Cursor + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: consumerIdle,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", name, err)
	}
	return cons, nil
}

// consumerIdle is how long the broker keeps the consumer of a replica
// that stopped pulling from it.
const consumerIdle = time.Hour

// ConsumerName is the name of the consumer a replica with this id reads
// its folder's stream with (bus.ReplicaConsumer).
func ConsumerName(id string) string { return bus.ReplicaConsumer(id) }

// pump moves messages from the iterator to the dispatcher.
func pump(ctx context.Context, it jetstream.MessagesContext, out chan<- jetstream.Msg) error {
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read stream: %w", err)
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return nil
		}
	}
}

// dispatch hands records to workers in stream order. Records that may
// remove a directory run alone: a tree must not be removed while a later
// record is writing beneath it.
func (p *pipeline) dispatch(ctx context.Context, msgs <-chan jetstream.Msg) error {
	idle := time.NewTicker(idleAfter)
	defer idle.Stop()
	check := time.NewTicker(p.checkInterval)
	defer check.Stop()
	conn := p.conn
	reconnects := conn.Stats().Reconnects
	reconnected := time.NewTicker(reconnectPoll)
	defer reconnected.Stop()
	parked := time.NewTicker(parkPoll)
	defer parked.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reconnected.C:
			if conn.Stats().Reconnects != reconnects {
				return errReconnected
			}
		case m := <-msgs:
			if err := p.handle(ctx, m); err != nil {
				return err
			}
			last = time.Now()
		case <-idle.C:
			// Quiet, or caught up with what the broker holds: under a
			// steady flow of changes a replica is seldom quiet for
			// idleAfter, yet it must finish a reconcile and note that it
			// caught up (onIdle waits for the records in flight).
			if time.Since(last) < idleAfter && !p.caughtUp {
				continue
			}
			if err := p.onIdle(ctx); err != nil {
				return err
			}
		case <-check.C:
			if err := p.checkPosition(ctx); err != nil {
				return err
			}
		case <-parked.C:
			if err := p.retryParked(ctx); err != nil {
				return err
			}
		case n := <-p.repair:
			return &restartError{verdict{reason: fmt.Sprintf("repair: a verify found %d paths that differ from the published state", n)}}
		}
	}
}

const idleAfter = 50 * time.Millisecond

// parkPoll is how often the dispatcher looks for parked records to retry.
const parkPoll = time.Second

func (p *pipeline) handle(ctx context.Context, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("read message metadata: %w", err)
	}
	// The consumer acknowledges nothing, so a message the broker sent and
	// the connection lost (a disconnect in the middle of a pull) is not
	// sent again: a gap in the consumer's delivery sequence ends the
	// session, and the next one reads again from the committed position.
	if want := p.delivered + 1; md.Sequence.Consumer != want {
		return fmt.Errorf("%w: message %d of the consumer arrived, %d was expected", errDeliveryGap, md.Sequence.Consumer, want)
	}
	p.delivered = md.Sequence.Consumer
	p.prog.pending.Store(md.NumPending)
	p.caughtUp = md.NumPending == 0
	p.prog.settled.Store(false)
	seq := md.Sequence.Stream
	rec, err := p.keys.DecodeRecord(m.Subject(), m.Data())
	if err == nil && p.keys.StateSubject(p.folder, rec.Path) != m.Subject() {
		err = fmt.Errorf("%w: path does not belong to its subject", wire.ErrMalformed)
	}
	if serr := p.checkSigned(m.Headers(), m.Subject(), m.Data()); serr != nil {
		err = serr // what the source did not sign is unknown, not absent
	} else if err == nil {
		err = p.checkReplay(rec)
	}
	if errors.Is(err, wire.ErrVersion) {
		// A newer source's format: skipping it would lose the change, so
		// the session stops before it (and retries with backoff) until
		// this replica is upgraded. What came before it is applied and
		// committed first.
		p.barrier(ctx)
		p.metrics.errors.WithLabelValues("version").Inc()
		return fmt.Errorf("message %d on %s: %w; upgrade jetsync on this replica", seq, m.Subject(), err)
	}
	if err != nil {
		p.badMessage(m.Subject(), err)
		it := p.enqueue(seq, nil)
		it.unknown = strings.TrimPrefix(m.Subject(), wire.StatePrefix(p.folder))
		p.finish(it)
		return nil
	}
	// The record is news from the broker: its stream reaches seq, and its
	// source is at least at its epoch.
	p.broker.lastSeq = max(p.broker.lastSeq, seq)
	p.broker.epoch = max(p.broker.epoch, rec.Epoch)
	if err := p.restartUnless(p.broker); err != nil {
		return err
	}
	p.maxEpoch = max(p.maxEpoch, rec.Epoch)
	if p.deferStale(seq, rec) {
		it := p.enqueue(seq, rec)
		it.deferred = true
		p.deferred = append(p.deferred, it)
		p.finish(it)
		return nil
	}
	if p.destructive(rec) {
		p.barrier(ctx)
		return p.applyItem(ctx, p.enqueue(seq, rec))
	}
	p.waitRoom(ctx)
	p.schedule(p.enqueue(seq, rec))
	return nil
}

// destructive reports whether applying rec may remove a directory tree.
func (p *pipeline) destructive(rec *wire.Record) bool {
	if rec.Type == wire.Deleted {
		return !rec.Excluded // an excluded tombstone touches no disk
	}
	fi, err := p.root.Lstat(rec.Path)
	return err == nil && fi.IsDir() != (rec.Type == wire.Dir)
}

func (p *pipeline) onIdle(ctx context.Context) error {
	if p.inflightCount() > 0 {
		return nil
	}
	if err := p.flushDirs(ctx); err != nil {
		return err
	}
	if p.reconciling && p.caughtUp {
		whole, err := p.stateWhole(ctx)
		if err != nil || !whole {
			return err
		}
		if err := p.finishReconcile(ctx); err != nil {
			return err
		}
	}
	settled := p.caughtUp && !p.reconciling
	p.prog.settled.Store(settled)
	if settled {
		return p.markCaughtUp()
	}
	return nil
}

// stillValid is the check of a worker that holds a record: whether the
// stream it reads was deleted, recreated or cut short meanwhile. Its
// dispatcher may be waiting for that record (a barrier, a full pipeline)
// and not check the position itself until the record applies, which
// could be never. A broker that does not answer teaches nothing.
func (p *pipeline) stillValid(ctx context.Context) error {
	info, err := p.stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return &restartError{verdict{reason: "the stream is gone (broker lost its store?)", loss: true}}
	}
	if err != nil {
		return nil
	}
	p.cmu.Lock()
	created, reconciling := p.pos.Created, p.reconciling
	p.cmu.Unlock()
	p.mu.Lock()
	lastSeen := p.lastSeen
	p.mu.Unlock()
	switch {
	case info.State.LastSeq < lastSeen:
		return &restartError{verdict{reason: fmt.Sprintf("the stream ends at %d, before our position %d (broker lost messages)",
			info.State.LastSeq, lastSeen), loss: true}}
	case !reconciling && created != 0 && info.Created.UnixNano() != created:
		return &restartError{verdict{reason: "the stream was recreated (broker lost its store?)", loss: true}}
	}
	return nil
}

// checkPosition asks the broker whether our position is still meaningful.
func (p *pipeline) checkPosition(ctx context.Context) error {
	info, err := p.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read stream info: %w", err)
	}
	meta, err := p.readMeta(ctx, p.stream)
	if err != nil {
		return err
	}
	p.broker = brokerOf(info, meta)
	return p.restartUnless(p.broker)
}
