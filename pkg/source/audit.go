package source

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
)

// auditSample is how many of its records the source checks on the broker
// at each broker check (see audit), one request each.
var auditSample = 64

// auditBudget bounds the time a broker check spends on its sample; the
// next check goes on where it stopped.
var auditBudget = 2 * time.Second

// maxSuspects bounds the records remembered as missing until the
// tombstones in flight when they were found are in the index.
const maxSuspects = 64

// audit notices a stream that no longer holds the records the source
// published although it keeps its creation time and last sequence: a
// purge (whole, of some subjects, up to a sequence, keeping the last N)
// or deleted messages. Each broker check compares the stream's message
// count with the records the index says it holds, and checks a few of
// those records one by one, resuming where the previous check stopped,
// so that every record is looked at in turn. The monitor only suspects:
// recover, once every publish is settled and in the index, confirms
// before anything is republished.
//
// The index lags the stream (an entry is written after its ack), which
// only ever makes it ask for less, with one exception: a tombstone that
// replaced a published record may expire (--tombstone-ttl) before the
// index has it. Tombstones sent but not yet in the index are counted for
// that reason: they excuse as many missing records.
//
// A source killed between a tombstone's ack and its index commit, and
// started again after the tombstone expired, has an index that counts a
// record the stream no longer has and that nothing on the broker names any
// more. The initial full scan tombstones that path again; until it is
// done, the monitor does not check, and recover excuses as many records as
// there are sequences after the last one the index has.
type audit struct {
	sample int // records checked per broker check

	// tombSent counts tombstones before they are sent; tombSettled those
	// whose outcome is in the index (or that were never sent).
	tombSent, tombSettled atomic.Uint64

	// gen is odd while recover runs: a check that overlaps it compares
	// an index and a stream caught at different points and is dropped.
	gen atomic.Uint64

	// Used by the monitor goroutine only.
	next    string    // the sample goes on after this path; "" starts over
	pending []suspect // found missing while tombstones were in flight

	mu       sync.Mutex
	reported []suspect // for recover to confirm
	raised   bool      // the monitor suspected a loss since recover last ran
	// After a suspicion recover did not confirm, the monitor does not
	// check before quietUntil, for twice as long each time in a row: a
	// suspicion interrupts a scan, which starts again after the recovery.
	quietUntil time.Time
	quietFor   time.Duration

	rounds atomic.Int64 // checks done, for tests
	alarms atomic.Int64 // checks that suspected a loss, for tests
}

// suspect is a record found missing from the stream: the state of path
// the broker acknowledged at seq, or the folder meta.
type suspect struct {
	path string
	seq  uint64
	meta bool
	// sent is how many tombstones were sent when it was found missing;
	// once as many are settled, the index shows whether one of them
	// replaced it.
	sent uint64
}

// snapshot is what the index says the stream holds, taken before the
// stream is read: an entry is in the index only after its record is
// on the broker.
type snapshot struct {
	published uint64 // records the stream must hold
	settled   uint64 // tombstones settled by then
	gen       uint64
}

// takeSnapshot takes the snapshot for a check, and reports whether the
// monitor is to check at all.
func (s *Source) takeSnapshot() (snapshot, bool) {
	sn := snapshot{gen: s.audit.gen.Load(), settled: s.audit.tombSettled.Load()}
	if sn.gen%2 == 1 || !s.prog.initialDone.Load() || s.audit.quiet() {
		return sn, false
	}
	st, err := s.ix.Stats()
	if err != nil {
		s.log.Debug("broker check: cannot read the index", "err", err)
		return sn, false
	}
	sn.published = uint64(max(st.Published, 0))
	return sn, true
}

// inFlight is how many tombstones may have replaced records the index
// still counts as on the stream: none when tombstones never expire.
func (s *Source) inFlight(settled uint64) uint64 {
	if s.cfg.TombstoneTTL <= 0 {
		return 0
	}
	return s.audit.tombSent.Load() - settled
}

// auditStream is the monitor's check of st against sn; it reports
// whether a loss is suspected, and leaves what it found for recover.
func (s *Source) auditStream(ctx context.Context, st jetstream.Stream, sn snapshot) bool {
	a := &s.audit
	a.rounds.Add(1)
	found := s.countShort(st.CachedInfo(), sn)
	var sus []suspect
	if !found {
		sus = s.sampleRecords(ctx, st)
	}
	if !found && len(sus) == 0 || a.gen.Load() != sn.gen {
		return false
	}
	a.alarms.Add(1)
	a.mu.Lock()
	a.reported = append(a.reported[:0], sus...)
	a.raised = true
	a.mu.Unlock()
	return true
}

// countShort reports whether the stream holds fewer messages than the
// records the index says it holds plus the folder meta.
func (s *Source) countShort(info *jetstream.StreamInfo, sn snapshot) bool {
	have := info.State.Msgs + s.inFlight(sn.settled)
	if have > sn.published {
		return false
	}
	s.log.Debug("broker check: the stream holds fewer messages than the records published",
		"messages", info.State.Msgs, "published", sn.published)
	return true
}

// sampleRecords checks the next few records of the rotation, and those
// found missing earlier whose tombstones are now settled, and returns
// those confirmed missing.
func (s *Source) sampleRecords(ctx context.Context, st jetstream.Stream) []suspect {
	a := &s.audit
	if sus := s.settledSuspects(); len(sus) > 0 {
		return sus
	}
	if a.next == "" { // once per pass, the folder meta
		held, err := s.holds(ctx, st, wire.MetaSubject(s.cfg.Folder))
		if err != nil {
			return s.checkFailed(err)
		}
		if !held {
			return []suspect{{meta: true}}
		}
	}
	settled := a.tombSettled.Load()
	es, next, err := s.ix.PublishedAfter(a.next, a.sample)
	if err != nil {
		s.log.Debug("broker check: cannot read the index", "err", err)
		return nil
	}
	deadline := time.Now().Add(auditBudget)
	for _, e := range es {
		if time.Now().After(deadline) {
			return nil
		}
		held, err := s.holds(ctx, st, s.keys.StateSubject(s.cfg.Folder, e.Path))
		if err != nil {
			return s.checkFailed(err)
		}
		if !held {
			sus := suspect{path: e.Path, seq: e.Seq, sent: a.tombSent.Load()}
			if s.inFlight(settled) == 0 {
				return []suspect{sus}
			}
			if len(a.pending) < maxSuspects {
				a.pending = append(a.pending, sus)
			}
		}
		a.next = e.Path // a slow broker still gets through the index
	}
	a.next = next
	return nil
}

// checkFailed ends a sample on a failed request; the next broker check
// goes on from there.
func (s *Source) checkFailed(err error) []suspect {
	s.log.Debug("broker check failed", "err", err)
	return nil
}

// settledSuspects returns the pending suspects whose index entry, now
// that every tombstone sent when they were found is settled, still says
// the record found missing is the path's latest state; it forgets the
// others.
func (s *Source) settledSuspects() []suspect {
	a := &s.audit
	var out []suspect
	kept := a.pending[:0]
	for _, sus := range a.pending {
		if a.tombSettled.Load() < sus.sent {
			kept = append(kept, sus)
			continue
		}
		if e, err := s.ix.Head(sus.path); err == nil && e != nil && e.Seq == sus.seq {
			out = append(out, sus)
		}
	}
	a.pending = kept
	return out
}

// holds reports whether the stream has a message on subject. It asks
// the stream leader (stream info filtered by subject), not the replica
// that may answer a direct get and may lag, and reads no message body.
func (s *Source) holds(ctx context.Context, st jetstream.Stream, subject string) (bool, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return false, fmt.Errorf("read stream info of %s: %w", subject, err)
	}
	return info.State.Subjects[subject] > 0, nil
}

func (a *audit) quiet() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Now().Before(a.quietUntil)
}

// verdict records recover's verdict on a suspicion of the monitor.
func (a *audit) verdict(confirmed bool, period time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if confirmed {
		a.quietFor = 0
		return
	}
	a.quietFor = min(max(2*a.quietFor, period), time.Hour)
	a.quietUntil = time.Now().Add(a.quietFor)
}

// take returns, and forgets, what the monitor reported since the last
// call: the suspects and whether it suspected a loss at all.
func (a *audit) take() ([]suspect, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sus, raised := a.reported, a.raised
	a.reported, a.raised = nil, false
	return sus, raised
}

// purged is recover's judgement, made once every publish is settled and
// in the index, so that the index is exact: it returns what the stream
// lacks of what the source published, "" if nothing. info is the
// stream's state read after the last publish settled, lastAcked the
// index's last acknowledged sequence; sus and raised are what the monitor
// reported (see audit.take).
func (s *Source) purged(ctx context.Context, info *jetstream.StreamInfo, lastAcked uint64, sus []suspect, raised bool) (string, error) {
	var unseen uint64 // see audit: tombstones that expired before a restart
	if !s.prog.initialDone.Load() && info.State.LastSeq > lastAcked {
		unseen = info.State.LastSeq - lastAcked
	}
	var what string
	err := s.retryBroker(ctx, "check the stream's records", streamSync(info), func(ctx context.Context) error {
		var err error
		what, err = s.lacks(ctx, info, unseen, sus)
		return err
	})
	if err == nil && raised {
		s.audit.verdict(what != "", s.checkEvery)
		if what == "" {
			s.log.Info("the broker check suspected missing records; the stream has them all")
		}
	}
	return what, err
}

// lacks compares the stream with the index: its message count (unseen
// more records excused), the folder meta, and each suspect of the broker
// check.
func (s *Source) lacks(ctx context.Context, info *jetstream.StreamInfo, unseen uint64, sus []suspect) (string, error) {
	stats, err := s.ix.Stats()
	if err != nil {
		return "", err
	}
	if need := uint64(max(stats.Published, 0)) + 1; info.State.Msgs+unseen < need {
		return fmt.Sprintf("the stream holds %d messages, fewer than the %d it must hold (the %d state records the source published and the folder meta; purged?)",
			info.State.Msgs, need, need-1), nil
	}
	st, err := s.js.Stream(ctx, wire.StreamName(s.cfg.Folder))
	if err != nil {
		return "", fmt.Errorf("open stream: %w", err)
	}
	held, err := s.holds(ctx, st, wire.MetaSubject(s.cfg.Folder))
	switch {
	case err != nil:
		return "", err
	case !held:
		return "the stream lost the folder meta (purged?)", nil
	}
	for _, c := range sus {
		e, err := s.ix.Head(c.path)
		if c.meta || err != nil || e == nil || !e.Published() || e.Type == wire.Deleted {
			continue
		}
		held, err := s.holds(ctx, st, s.keys.StateSubject(s.cfg.Folder, c.path))
		switch {
		case err != nil:
			return "", err
		case !held:
			return fmt.Sprintf("the stream lost the record of %q published at sequence %d (purged or deleted?)", c.path, e.Seq), nil
		}
	}
	return "", nil
}
