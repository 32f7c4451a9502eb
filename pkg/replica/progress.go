package replica

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Progress is a snapshot of what the replica has done.
type Progress struct {
	State       string // starting | reconciling | live
	Reconciled  bool   // a full reconcile or a valid stored position was reached
	Cursor      uint64 // every record up to this stream sequence is applied
	Pending     uint64
	InFlight    int64 // records delivered and not yet done with
	Finished    int64 // records done with since start: applied, found unchanged or parked
	Lag         time.Duration
	Settled     bool  // caught up, nothing in flight, directory metadata set
	Applied     int64 // records applied since start
	Epoch       uint64
	Files       int64 // file records applied or found already equal
	Bytes       int64 // their sizes
	Fetched     int64 // content bytes fetched from the broker
	Received    int64 // the same, counted as they arrive (a big file's progress), inline content not
	Reused      int64 // content bytes copied from local files
	Errors      int64
	LastError   string
	LastErrorAt time.Time
	// WaitingFor is a path whose content is neither local nor cached and
	// whose source does not answer ("" when none); State is then
	// waiting-for-source.
	WaitingFor string
	// Parked counts the records set aside because they cannot be applied
	// yet; Stuck names the first of them. They count in Pending and Lag,
	// and a live replica with any is in state stuck.
	Parked int
	Stuck  []Stuck
	// Note says what the replica waits for, when that is not plain from
	// State (a reconcile waiting for the source's full state).
	Note string
	// LastVerify is the last scrub's outcome (zero Time: none yet).
	LastVerify Scrub
}

// Stuck is a parked record, for the status report.
type Stuck struct {
	Path     string
	Seq      uint64
	Reason   string
	Since    time.Time
	Attempts uint64
}

type progress struct {
	mu         sync.Mutex
	state      string
	lastError  string
	errorAt    time.Time // when lastError happened
	waiting    string
	oldest     time.Time
	parked     parkedState // count, oldest and first of the parked records
	note       string
	scrub      Scrub
	cursor     atomic.Uint64
	epoch      atomic.Uint64
	applied    atomic.Int64
	pending    atomic.Uint64
	fetched    atomic.Int64
	received   atomic.Int64
	inflight   atomic.Int64
	finished   atomic.Int64
	reused     atomic.Int64
	errors     atomic.Int64
	reconciled atomic.Bool
	settled    atomic.Bool
	files      atomic.Int64
	bytes      atomic.Int64
}

func (p *progress) setState(s string) { p.mu.Lock(); p.state = s; p.mu.Unlock() }
func (p *progress) setNote(s string)  { p.mu.Lock(); p.note = s; p.mu.Unlock() }
func (p *progress) setScrub(s Scrub)  { p.mu.Lock(); p.scrub = s; p.mu.Unlock() }

// setWaiting records the path waiting for an unreachable source, or
// clears it ("").
func (p *progress) setWaiting(path string) { p.mu.Lock(); p.waiting = path; p.mu.Unlock() }
func (p *progress) setPosition(c uint64) {
	p.cursor.Store(c)
}
func (p *progress) setLag(oldest time.Time) { p.mu.Lock(); p.oldest = oldest; p.mu.Unlock() }
func (p *progress) setParked(st parkedState) {
	st.due = nil
	p.mu.Lock()
	p.parked = st
	p.mu.Unlock()
}
func (p *progress) add(fetched, reused int64) {
	p.fetched.Add(fetched)
	p.reused.Add(reused)
}

// Progress returns a snapshot; safe from any goroutine.
func (r *Replica) Progress() Progress {
	p := &r.prog
	p.mu.Lock()
	defer p.mu.Unlock()
	out := Progress{State: p.state, Reconciled: p.reconciled.Load(), Cursor: p.cursor.Load(),
		Pending: p.pending.Load(), InFlight: p.inflight.Load(), Finished: p.finished.Load(), Settled: p.settled.Load(), Applied: p.applied.Load(), Epoch: p.epoch.Load(),
		Files: p.files.Load(), Bytes: p.bytes.Load(), Fetched: p.fetched.Load(), Received: p.received.Load(), Reused: p.reused.Load(),
		Errors: p.errors.Load(), LastError: p.lastError, LastErrorAt: p.errorAt, WaitingFor: p.waiting, Note: p.note,
		LastVerify: p.scrub}
	if out.State == "" {
		out.State = "starting"
	}
	if out.WaitingFor != "" {
		out.State = "waiting-for-source"
	}
	oldest := p.oldest
	if pk := p.parked; pk.count > 0 {
		out.Parked = pk.count
		out.Pending += uint64(pk.count)
		if out.State == "live" {
			out.State = "stuck"
		}
		if t := time.Unix(0, pk.oldest); pk.oldest > 0 && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
		for _, e := range pk.first {
			out.Stuck = append(out.Stuck, Stuck{Path: e.Path, Seq: e.Seq, Reason: e.Reason,
				Since: time.Unix(0, e.Since), Attempts: e.Attempts})
		}
	}
	if !oldest.IsZero() {
		out.Lag = time.Since(oldest)
	}
	return out
}

// noteError counts err and keeps it as the last error for the status
// report.
func (p *progress) noteError(err error) {
	p.errors.Add(1)
	p.mu.Lock()
	p.lastError = err.Error()
	p.errorAt = time.Now()
	p.mu.Unlock()
}

// applyFailed reports a record that could not be applied and is retried.
func (p *pipeline) applyFailed(path string, err error) {
	kind := p.noteFailure(err)
	p.log.Error("apply failed, will retry", "path", path, "err", err, "kind", kind)
}

// noteFailure counts a failed apply by kind, so that a full disk, a
// permission problem or bad content shows as such, and returns the kind.
func (p *pipeline) noteFailure(err error) string {
	p.prog.noteError(err)
	kind := "other"
	switch {
	case fsroot.IsNoSpace(err):
		kind = "no_space"
	case fsroot.IsPermission(err):
		kind = "permission"
	case errors.Is(err, wire.ErrCorrupt):
		kind = "corrupt"
	case errors.Is(err, wire.ErrMalformed):
		kind = "malformed"
	case errors.Is(err, apply.ErrChunkMissing):
		kind = "content_gone"
	case errors.Is(err, errSourceUnreachable):
		kind = "source_unreachable"
	}
	p.metrics.errors.WithLabelValues(kind).Inc()
	return kind
}

// badMessage reports a message skipped because it cannot be read, so
// that a broken publisher shows in the status and the metrics.
func (p *pipeline) badMessage(subject string, err error) {
	p.prog.noteError(err)
	p.metrics.errors.WithLabelValues("bad_message").Inc()
	p.log.Error("rejected message", "subject", subject, "err", err)
}

// reportLoop publishes the replica's status for `jetsync status`.
func (r *Replica) reportLoop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var kv jetstream.KeyValue
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if kv == nil {
			// The source creates the bucket with the folder's replication;
			// a replica that started first must not create it at R1.
			kv, _ = r.js.KeyValue(ctx, bus.StatusBucket)
		}
		r.report(ctx, kv)
	}
}

func (r *Replica) report(ctx context.Context, kv jetstream.KeyValue) {
	pr := r.Progress()
	r.metrics.cursor.Set(float64(pr.Cursor))
	r.metrics.lag.Set(pr.Lag.Seconds())
	if kv == nil {
		return
	}
	st := bus.ReplicaStatus{V: 1, ID: r.cfg.ID, Folder: r.cfg.Folder, State: pr.State,
		AppliedSeq: pr.Cursor, Pending: pr.Pending, LagSeconds: pr.Lag.Seconds(),
		Applied: pr.Applied, Fetched: pr.Fetched, Reused: pr.Reused, Errors: pr.Errors, LastError: pr.LastError,
		Epoch: pr.Epoch, WaitingFor: pr.WaitingFor, Parked: pr.Parked, Note: pr.Note, Updated: time.Now().UnixNano()}
	if !pr.LastErrorAt.IsZero() {
		st.LastErrorTime = pr.LastErrorAt.UnixNano()
	}
	for _, s := range pr.Stuck {
		st.Stuck = append(st.Stuck, bus.StuckPath{Path: s.Path, Seq: s.Seq, Reason: s.Reason,
			Since: s.Since.UnixNano(), Attempts: s.Attempts})
	}
	if v := pr.LastVerify; !v.Time.IsZero() {
		st.LastVerify = &bus.VerifyResult{Time: v.Time.UnixNano(), Equal: v.Equal, Diffs: v.Diffs,
			DurationSeconds: v.Duration.Seconds(), Files: v.Files, Bytes: v.Bytes, Repairing: v.Repairing, Error: v.Error}
		if len(v.First) > 0 {
			st.LastVerify.First = v.First[0].Path + " (" + v.First[0].Kind + ")"
		}
	}
	st.VerifyEverySeconds = r.cfg.VerifyEvery.Seconds()
	bus.SealReplica(r.keys, bus.ReplicaKey(r.cfg.Folder, r.cfg.ID), &st)
	if err := bus.PutStatus(ctx, kv, bus.ReplicaKey(r.cfg.Folder, r.cfg.ID), st); err != nil {
		r.log.Debug("report status", "err", err)
	}
}
