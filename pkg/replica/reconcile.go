package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/exclude"

	"github.com/jetsync/jetsync/pkg/wire"
)

// startReconcile reads the whole published state from the first message
// and remembers every live path in the store's seen set; finishReconcile
// then removes whatever the local tree has beyond it.
func (p *pipeline) startReconcile() error {
	p.reconciling = true
	p.pos.Cursor = 0
	p.lastSeen = 0
	p.prog.setState("reconciling")
	if err := p.store.beginReconcile(); err != nil {
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
	meta, err := p.readMeta(ctx, p.stream)
	if err != nil {
		return false, err
	}
	if meta.Epoch == 0 || meta.Epoch < p.needEpoch {
		p.waitForSource("waiting for the source to republish what the broker lost; keeping local paths meanwhile")
		return false, nil
	}
	if meta.Partial {
		p.waitForSource("the source is still publishing its full state; keeping local paths it has not published yet")
		return false, nil
	}
	p.prog.setNote("")
	last, err := bus.LastStateSeq(ctx, p.stream, p.folder)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastSeen >= last, nil
}

const stateCheckEvery = 500 * time.Millisecond

// waitForSource says, once in the log and in the status for as long as it
// lasts, why the reconcile cannot end yet.
func (p *pipeline) waitForSource(why string) {
	if p.waitingSince.IsZero() {
		p.log.Info(why)
		p.waitingSince = time.Now()
	}
	p.prog.setNote(fmt.Sprintf("%s (for %s)", why, time.Since(p.waitingSince).Round(time.Second)))
}

// finishReconcile deletes local paths absent from the published state and
// adopts the stream's identity and epoch as the new trusted position.
func (p *pipeline) finishReconcile(ctx context.Context) error {
	if err := p.applyDeferred(ctx); err != nil {
		return err
	}
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
	p.prog.epoch.Store(p.epoch)
	p.pos.Created = info.Created.UnixNano()
	p.pos.CaughtUp = time.Now().UnixNano()
	p.mu.Lock()
	p.pos.Cursor = max(p.pos.Cursor, p.lastSeen)
	p.mu.Unlock()
	if err := p.store.endReconcile(p.pos); err != nil {
		return fmt.Errorf("finish reconcile: %w", err)
	}
	p.prog.setPosition(p.pos.Cursor)
	p.prog.setState("live")
	p.prog.setNote("")
	p.prog.reconciled.Store(true)
	p.log.Info("reconcile done", "removed_extra", removed, "position", p.pos.Cursor, "epoch", p.epoch)
	return nil
}

// removeUnseen walks the local tree and removes every path the published
// state does not have. A removed directory takes its subtree with it.
// Paths the folder meta's patterns exclude are left alone, not walked;
// when there are patterns, an extra directory is emptied of the rest,
// deepest first, and removed only if nothing excluded is left in it.
func (p *pipeline) removeUnseen() (int, error) {
	m := p.excluded()
	descend := len(m.Patterns()) > 0
	extra, err := p.store.unseen(func(fn func(string, fs.DirEntry) error) error { return p.walkKept(m, fn) }, descend)
	if err != nil {
		return 0, fmt.Errorf("walk local tree: %w", err)
	}
	if descend {
		slices.Reverse(extra) // what is below a directory before it
	}
	removed := 0
	for _, path := range extra {
		if descend {
			if n, err := p.root.CountTree(path); err != nil || n > 0 {
				continue // an excluded path is left in it
			}
		}
		if err := p.root.RemoveAll(path); err != nil {
			return 0, err
		}
		removed++
		if err := p.root.SyncDir(wire.Parent(path)); err != nil {
			return 0, err
		}
		if err := p.store.forgetRemoved(path); err != nil {
			return 0, fmt.Errorf("forget removed path %s: %w", path, err)
		}
		p.metrics.removedExtra.Inc()
	}
	return removed, nil
}

// walkKept walks the local tree but what the source's patterns exclude
// (and what is never replicated: see exclude.Builtin).
func (p *pipeline) walkKept(m *exclude.Matcher, fn func(path string, d fs.DirEntry) error) error {
	return p.root.Walk(func(path string, d fs.DirEntry) error {
		if m.Match(path, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return fn(path, d)
	})
}

// maxDeferred bounds the records a reconcile holds back; beyond it they
// are applied as they come, which is correct, only slower.
const maxDeferred = 100000

// deferStale reports whether rec must wait until the reconcile's state is
// whole. After the broker lost data, the stream may still hold, for a path
// the source changed or deleted since, the state from before, until the
// source republishes the path: applying it would take the local copy back
// in time, delete it or bring it back, and download again content the
// replica has. Such a record is one the replica had already passed (its
// sequence is below the old position) and that would change the path.
// It waits; at the end it is applied only if it is still the path's
// latest state. Records past the old position are applied at once.
func (p *pipeline) deferStale(seq uint64, rec *wire.Record) bool {
	if !p.reconciling || seq > p.suspectLast || len(p.deferred) >= maxDeferred {
		return false
	}
	e, err := p.store.applied(rec.Path)
	switch {
	case err != nil:
		return false
	case e == nil:
		return rec.Type != wire.Deleted
	}
	return rec.Type == wire.Deleted || !e.matches(rec)
}

// applyDeferred applies the records deferStale held back that are still
// their path's latest state, once the published state is whole. Nothing
// is in flight then; the reconcile's position stays at 0 until it ends,
// so a crash repeats the whole reconcile, these included.
func (p *pipeline) applyDeferred(ctx context.Context) error {
	defer func() { p.deferred = nil }()
	for _, it := range p.deferred {
		subject := p.keys.StateSubject(p.folder, it.rec.Path)
		msg, err := p.stream.GetLastMsgForSubject(ctx, subject)
		gone := errors.Is(err, jetstream.ErrMsgNotFound)
		if err != nil && !gone {
			return fmt.Errorf("check held-back record of %s: %w", it.rec.Path, err)
		}
		if gone || msg.Sequence < it.seq {
			behind, err := answerBehind(ctx, p.stream, subject, gone)
			if err != nil {
				return fmt.Errorf("check held-back record of %s: %w", it.rec.Path, err)
			}
			if behind {
				return fmt.Errorf("check held-back record of %s at sequence %d: the broker answered from an older state "+
					"(a follower behind its leader?); reconciling again", it.rec.Path, it.seq)
			}
			continue // purged, or it expired
		}
		if msg.Sequence != it.seq {
			continue // a newer state replaced it
		}
		if err := p.applyHeldBack(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

// answerBehind says whether the answer to a direct get of subject, which
// gave no record (gone) or an older one than the replica holds, came from
// a follower of a clustered stream that is behind its leader: dropping a
// held-back record on that word would lose its change. A path's sequence
// only grows, so an older record is such an answer; for none at all, the
// leader (stream info) says whether the subject holds a record.
func answerBehind(ctx context.Context, st jetstream.Stream, subject string, gone bool) (bool, error) {
	if !gone {
		return true, nil
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return false, err
	}
	return info.State.Subjects[subject] > 0, nil
}

// applyHeldBack applies a held-back record and records it as the
// committer would, durable first, but leaves the position alone. One it
// cannot apply is parked, as a live record would be.
func (p *pipeline) applyHeldBack(ctx context.Context, it *item) error {
	applied := &item{seq: it.seq, rec: it.rec}
	if err := p.apply(ctx, applied); err != nil {
		if p.badRecord(it.rec.Path, err) {
			return nil // skipped, as when it cannot be decoded
		}
		if !parkable(err, parkAfter) {
			p.applyFailed(it.rec.Path, err)
			return fmt.Errorf("apply held-back record: %w", err)
		}
		p.park(applied, err)
	}
	if err := p.syncDirs([]*item{applied}); err != nil {
		return err
	}
	if err := p.store.record(p.changes([]*item{applied})); err != nil {
		return fmt.Errorf("record held-back record of %s: %w", it.rec.Path, err)
	}
	p.links.recorded([]*item{applied})
	return nil
}
