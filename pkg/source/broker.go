package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// brokerCheckInterval is the period of the broker data-loss check; it
// also runs after every reconnect.
var brokerCheckInterval = 10 * time.Second

// Kinds of broker state found by recover.
const (
	lossNone  = ""
	lossFresh = "fresh" // new index: nothing known about the broker yet
	lossStore = "store" // the stream was recreated: everything is gone
	lossTail  = "tail"  // the stream lost its most recent messages
	// lossPurged: the stream lacks records it acknowledged, although it
	// kept its creation time and last sequence (purged, messages deleted).
	lossPurged = "purged"
)

// recover compares the broker's stream with the index once every pending
// publish is settled. If the broker lost data it bumps the epoch, marks
// what was lost as unpublished and publishes the folder meta; it reports
// whether anything must be republished. It also runs at start. A stream
// that goes missing or is recreated again while it works starts it over.
func (s *Source) recover(ctx context.Context) (bool, error) {
	lost := false
	for {
		l, err := s.recoverOnce(ctx)
		lost = lost || l
		if !errors.Is(err, errRecover) {
			return lost, err
		}
		s.log.Warn("the broker's stream changed during the recovery; starting it over")
		lost = true // what the last round marked unpublished must be republished
	}
}

func (s *Source) recoverOnce(ctx context.Context) (bool, error) {
	s.audit.gen.Add(1) // odd: the broker check stands aside
	defer s.audit.gen.Add(1)
	if err := s.barrier(ctx); err != nil {
		return false, err
	}
	s.com.flush()
	m, err := s.ix.Meta()
	if err != nil {
		return false, err
	}
	info, err := s.ensureStream(ctx)
	if err != nil {
		return false, err
	}
	if err := s.checkEncryption(ctx); err != nil {
		return false, err
	}
	l, err := s.classify(ctx, m, info)
	if err != nil {
		return false, err
	}
	if l.kind == lossNone {
		s.settleMeta(m.Epoch, info, info.State.LastSeq)
		if err := s.ix.SetMeta(index.Meta{Epoch: m.Epoch, Created: info.Created.UnixNano(), LastAcked: info.State.LastSeq}); err != nil {
			return false, err
		}
		return false, s.retryBroker(ctx, "check folder meta", streamSync(info), func(ctx context.Context) error {
			return s.refreshMeta(ctx, m.Epoch)
		})
	}
	s.prog.setState(StateRecovering)
	epoch, err := s.forget(ctx, l, m, info)
	if err != nil {
		return false, err
	}
	return true, s.announce(ctx, epoch, info)
}

// loss is what recover found the broker lost.
type loss struct {
	kind     string
	lastGood uint64 // lossTail: the last sequence the broker still has of what it acknowledged
	what     string // lossPurged: what the stream lacks
}

// classify says what the broker lost. When the stream kept its creation
// time and its tail, the records it acknowledged after the index's last
// are adopted first, then the stream is checked for records it no longer
// holds.
func (s *Source) classify(ctx context.Context, m index.Meta, info *jetstream.StreamInfo) (loss, error) {
	sus, raised := s.audit.take()
	kind, lastGood := lossOf(m.Created, max(m.LastAcked, s.pub.highest.Load()), s.pub.regressed.Load(), info)
	if kind != lossNone {
		return loss{kind: kind, lastGood: lastGood}, nil
	}
	// The tail may be long: each read has its own timeout, not the
	// attempt as a whole.
	err := s.retryBroker(ctx, "read unacknowledged records", streamSync(info), func(context.Context) error {
		return s.adoptTail(ctx, m.LastAcked, info.State.LastSeq)
	})
	if err != nil {
		return loss{}, err
	}
	what, err := s.purged(ctx, info, m.LastAcked, sus, raised)
	if err != nil || what == "" {
		return loss{}, err
	}
	return loss{kind: lossPurged, what: what}, nil
}

// lossOf is the one judgement of what the broker lost. created is the
// creation time of the stream the source is in sync with (0: none yet),
// acked the highest sequence it acknowledged, regressed the lowest
// sequence an ack went back to (0: none; see publisher.observe). For a
// lost tail it also returns the last sequence the broker still has of what
// it acknowledged.
func lossOf(created int64, acked, regressed uint64, info *jetstream.StreamInfo) (string, uint64) {
	last := info.State.LastSeq
	switch {
	case created == 0:
		return lossFresh, 0
	case created != info.Created.UnixNano():
		return lossStore, 0
	case regressed != 0:
		return lossTail, min(last, regressed-1)
	case last < acked:
		return lossTail, last
	}
	return lossNone, 0
}

// forget updates the index for a loss and returns the new epoch.
func (s *Source) forget(ctx context.Context, l loss, m index.Meta, info *jetstream.StreamInfo) (uint64, error) {
	switch l.kind {
	case lossFresh:
		epoch := s.streamEpoch(ctx) + 1
		s.log.Info("new index: publishing the whole tree", "epoch", epoch, "stream_last_seq", info.State.LastSeq)
		return epoch, nil
	case lossStore:
		s.log.Warn("the broker lost the whole stream (it was recreated); republishing everything",
			"stream_created", info.Created, "known_created", time.Unix(0, m.Created), "epoch", m.Epoch+1)
		s.metrics.loss.WithLabelValues(lossStore).Inc()
		return s.resetAll(m)
	case lossPurged:
		s.log.Warn(l.what+"; republishing everything",
			"stream_first_seq", info.State.FirstSeq, "stream_last_seq", info.State.LastSeq, "epoch", m.Epoch+1)
		s.metrics.loss.WithLabelValues(lossPurged).Inc()
		return s.resetAll(m)
	default:
		s.log.Warn("the broker lost acknowledged messages (lost tail); republishing them",
			"broker_last_seq", info.State.LastSeq, "acked_seq", max(m.LastAcked, s.pub.highest.Load()),
			"kept_up_to", l.lastGood, "epoch", m.Epoch+1)
		s.metrics.loss.WithLabelValues(lossTail).Inc()
		n, err := s.ix.MarkLost(l.lastGood)
		s.log.Info("marked lost entries unpublished", "entries", n)
		return m.Epoch + 1, err
	}
}

// resetAll marks everything unpublished, for a new epoch after m's.
func (s *Source) resetAll(m index.Meta) (uint64, error) {
	n, err := s.ix.ResetAll()
	s.log.Info("marked everything unpublished", "entries", n)
	return m.Epoch + 1, err
}

// announce publishes the folder meta with the new epoch before anything
// is republished, then stores the epoch. A crash in between repeats the
// recovery with a higher epoch, which is harmless.
func (s *Source) announce(ctx context.Context, epoch uint64, info *jetstream.StreamInfo) error {
	var seq uint64
	err := s.retryBroker(ctx, "publish folder meta", streamSync(info), func(ctx context.Context) error {
		var err error
		seq, err = s.publishMeta(ctx, epoch, true)
		return err
	})
	if err != nil {
		return err
	}
	s.bv.metaPartial.Store(true)
	last := max(info.State.LastSeq, seq)
	s.settleMeta(epoch, info, last)
	return s.ix.SetMeta(index.Meta{Epoch: epoch, Created: info.Created.UnixNano(), LastAcked: last})
}

// publishMeta publishes the folder meta and returns its sequence.
func (s *Source) publishMeta(ctx context.Context, epoch uint64, partial bool) (uint64, error) {
	meta := s.keys.EncodeMeta(s.cfg.Folder, wire.Meta{Epoch: epoch, Source: s.ix.ID(), Time: time.Now().UnixNano(),
		TombstoneTTL: int64(s.cfg.TombstoneTTL), Partial: partial, Exclude: s.excl.Patterns()})
	msg := &nats.Msg{Subject: wire.MetaSubject(s.cfg.Folder), Data: meta}
	s.signer.Sign(msg)
	a, err := s.js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, fmt.Errorf("publish folder meta: %w", err)
	}
	return a.Sequence, nil
}

// completeMeta tells replicas, once a full scan after an epoch change has
// published everything and every publish is acknowledged, that the state
// of this epoch is whole: only then may they delete what it lacks. It
// returns errRecover, for the recovery to run, if the stream it would
// complete is gone, recreated or behind, or a recovery was asked for.
func (s *Source) completeMeta(ctx context.Context) error {
	if !s.bv.metaPartial.Load() {
		return nil
	}
	if err := s.barrier(ctx); err != nil {
		return err
	}
	var seq uint64
	err := s.retryBroker(ctx, "publish folder meta", s.scanSync(), func(ctx context.Context) error {
		var err error
		seq, err = s.publishMeta(ctx, s.bv.epoch.Load(), false)
		return err
	})
	if err != nil {
		return err
	}
	s.pub.rebase(max(s.pub.highest.Load(), seq)) // nothing is in flight after the barrier
	s.bv.metaPartial.Store(false)
	s.log.Info("full state of the epoch published", "epoch", s.bv.epoch.Load())
	return nil
}

// refreshMeta republishes the folder meta, same epoch, when its settings
// differ from this run's configuration (an operator changed
// --tombstone-ttl or the exclusion patterns) or it is of an older
// version, once per run.
func (s *Source) refreshMeta(ctx context.Context, epoch uint64) error {
	known := s.bv.metaFresh.Load() // this run published or checked the meta
	stream, err := s.js.Stream(ctx, wire.StreamName(s.cfg.Folder))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	s.observeStream(ctx, stream)
	partial := true // no meta yet: nothing told replicas the state is whole
	if known {
		partial = s.bv.metaPartial.Load() // what this run last said
	}
	msg, err := stream.GetLastMsgForSubject(ctx, wire.MetaSubject(s.cfg.Folder))
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("read folder meta: %w", err)
	}
	ours := err == nil && s.ownKey.Verify(msg.Header, msg.Subject, msg.Data) == nil
	if known && ours {
		return nil
	}
	if known {
		s.log.Warn("the folder meta on the broker is not this source's (lost, or published by someone else); publishing it again")
	}
	if ours {
		// Only a meta this source signed is taken as it is; another
		// is replaced (as partial unless this run knows what it said:
		// a forged "whole" must not stand).
		if m, derr := s.keys.DecodeMeta(s.cfg.Folder, msg.Data); derr == nil && m.Epoch == epoch {
			partial = m.Partial
			// A meta of an older version (written by a release that kept
			// content in the stream) is rewritten: it is what stops the
			// replicas of that release (see wire.MetaVersion).
			if m.TombstoneTTL == int64(s.cfg.TombstoneTTL) && s.metaCurrent(m) {
				s.bv.metaPartial.Store(partial)
				s.bv.metaFresh.Store(true)
				return nil
			}
		}
	}
	if _, err := s.publishMeta(ctx, epoch, partial); err != nil {
		return err
	}
	s.bv.metaPartial.Store(partial)
	s.bv.metaFresh.Store(true)
	return nil
}

func (s *Source) settleMeta(epoch uint64, info *jetstream.StreamInfo, last uint64) {
	s.pub.rebase(last)
	s.metrics.lastSeq.Set(float64(last))
	s.bv.settle(epoch, info.Created.UnixNano()) // last: the monitor compares once synced
}

// streamEpoch returns the epoch in the folder meta already on the broker,
// 0 if there is none.
func (s *Source) streamEpoch(ctx context.Context) uint64 {
	st, err := s.js.Stream(ctx, wire.StreamName(s.cfg.Folder))
	if err != nil {
		return 0
	}
	msg, err := st.GetLastMsgForSubject(ctx, wire.MetaSubject(s.cfg.Folder))
	if err != nil {
		return 0
	}
	m, err := s.keys.DecodeMeta(s.cfg.Folder, msg.Data)
	if err != nil {
		s.log.Warn("ignoring unreadable folder meta on the broker", "err", err)
		return 0
	}
	return m.Epoch
}

// ensureStream creates or updates the folder's state stream (upgrading
// one of an older release) and its content cache, retrying until the
// broker answers, and returns the state stream's current info.
func (s *Source) ensureStream(ctx context.Context) (*jetstream.StreamInfo, error) {
	var info *jetstream.StreamInfo
	err := s.retryBroker(ctx, "ensure stream", inSync{}, func(ctx context.Context) error {
		st, upgraded, err := bus.EnsureStream(ctx, s.js, s.cfg.Folder, s.cfg.StreamOptions)
		if upgraded > 0 {
			s.log.Info("upgraded the folder stream: removed the content chunks of an older release",
				"chunks", upgraded, "stream", wire.StreamName(s.cfg.Folder))
		}
		if err != nil {
			return err
		}
		if err := bus.EnsureCache(ctx, s.js, s.cfg.Folder, s.cfg.ContentCache, s.cfg.StreamOptions.Replicas); err != nil {
			return err
		}
		info, err = st.Info(ctx)
		if err != nil {
			return fmt.Errorf("read stream info: %w", err)
		}
		return nil
	})
	return info, err
}

// monitor checks the broker every s.checkEvery (brokerCheckInterval) and
// right after every reconnect, and asks the control loop to recover on
// any sign of lost data.
func (s *Source) monitor(ctx context.Context) error {
	tick := time.NewTicker(s.checkEvery / 10)
	defer tick.Stop()
	reconnects := s.nc.Stats().Reconnects
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		r := s.nc.Stats().Reconnects
		if r == reconnects && time.Since(last) < s.checkEvery {
			continue
		}
		reconnects, last = r, time.Now()
		if s.brokerLost(ctx) {
			s.requestRecovery()
		}
	}
}

// brokerLost reports whether the stream was recreated, is behind what it
// acknowledged or lacks records it acknowledged (see audit). highest and
// the index are read before the stream info, so acks that arrive
// meanwhile cannot cause a false alarm.
func (s *Source) brokerLost(ctx context.Context) bool {
	if !s.bv.synced.Load() {
		return false
	}
	acked := s.pub.highest.Load()
	sn, ok := s.takeSnapshot()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := s.js.Stream(cctx, wire.StreamName(s.cfg.Folder))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return true
	}
	if err != nil {
		s.log.Debug("broker check failed", "err", err)
		return false
	}
	if kind, _ := lossOf(s.bv.created.Load(), acked, 0, st.CachedInfo()); kind != lossNone {
		return true
	}
	return ok && s.auditStream(cctx, st, sn)
}

func (s *Source) requestRecovery() {
	select {
	case s.recoverCh <- struct{}{}:
	default:
	}
}
