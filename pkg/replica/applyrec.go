package replica

import (
	"context"
	"io/fs"

	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/wire"
)

// apply makes the disk match it.rec unless it already does, and fills in
// what the committer records.
func (p *pipeline) apply(ctx context.Context, it *item) error {
	if it.rec.Type == wire.File && it.rec.Link != "" {
		return p.applyLinked(ctx, it)
	}
	return p.applyOne(ctx, it)
}

// applyOne is apply for one name.
func (p *pipeline) applyOne(ctx context.Context, it *item) error {
	rec := it.rec
	if rec.Path == wire.RootPath {
		return p.applyRoot(ctx, it)
	}
	if rec.Type == wire.Deleted && rec.Excluded {
		// The source no longer publishes the path: the store forgets it
		// (and what it has below it) when this commits; the disk keeps it.
		p.metrics.excluded.Inc()
		return nil
	}
	if rec.Type == wire.Deleted {
		if m := p.excluded(); len(m.Patterns()) > 0 {
			return p.deleteKeepingExcluded(it, m)
		}
		res, err := p.applier.Apply(ctx, rec)
		it.syncDirs = res.SyncDirs
		if err != nil {
			return err
		}
		p.metrics.applied.WithLabelValues(string(rec.Type)).Inc()
		if res.RemovedDir {
			p.metrics.removedTree.Add(float64(res.Removed + 1))
			p.log.Info("removed a directory the source deleted", "path", rec.Path, "entries", res.Removed)
		}
		return nil
	}
	if p.unchanged(rec) {
		it.entry, _ = p.store.applied(rec.Path)
		if it.entry != nil {
			it.entry.Time = max(it.entry.Time, rec.Time) // the newest record of the same state
		}
		p.metrics.unchanged.Inc()
		return nil
	}
	res, err := p.applier.Apply(ctx, rec)
	if err != nil {
		return err
	}
	p.metrics.applied.WithLabelValues(string(rec.Type)).Inc()
	if rec.Data != nil {
		// Content fetched from the cache or the source is counted as it
		// arrives (fetcher.got); inline content comes with the record.
		p.metrics.fetched.Add(float64(res.Fetched))
	}
	p.metrics.reused.Add(float64(res.Reused))
	p.prog.add(res.Fetched, res.Reused)
	it.chunks = res.Chunks
	it.syncDirs = res.SyncDirs
	it.entry = p.entryFor(rec, res.Info)
	return nil
}

// unchanged reports whether the path still is what we applied for an equal
// record: one index read and one lstat, no content read.
func (p *pipeline) unchanged(rec *wire.Record) bool {
	if rec.Type == wire.Dir {
		return false // cheap to re-apply, and its mtime is handled later
	}
	e, err := p.store.applied(rec.Path)
	if err != nil || e == nil || !e.matches(rec) {
		return false
	}
	fi, err := p.root.Lstat(rec.Path)
	return err == nil && fingerprintOf(fi).same(e.Disk)
}

// knownHash is apply.Applier.Known: the hash recorded for a file this
// replica wrote, as long as its fingerprint shows it untouched since.
func (p *pipeline) knownHash(path string, fi fs.FileInfo) (wire.Hash, bool) {
	e, err := p.store.applied(path)
	if err != nil || e == nil || e.Type != wire.File || !fingerprintOf(fi).same(e.Disk) {
		return wire.Hash{}, false
	}
	return e.Hash, true
}

// entryFor is what the committer records for rec, applied; fi, if not
// nil, describes what the apply left at the path (else it is lstat'ed).
func (p *pipeline) entryFor(rec *wire.Record, fi fs.FileInfo) *appliedEntry {
	e := &appliedEntry{Type: rec.Type, Mode: rec.Mode, MTime: rec.MTime, Size: rec.Size,
		Hash: rec.Hash, Target: rec.Target, Attrs: rec.AttrsDigest(), Link: rec.Link, Time: rec.Time}
	if fi == nil {
		if lfi, err := p.root.Lstat(rec.Path); err == nil {
			fi = lfi
		}
	}
	if fi != nil {
		e.Disk = fingerprintOf(fi)
	}
	return e
}

func fingerprintOf(fi fs.FileInfo) fingerprint {
	f := fingerprint{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode())}
	f.Ino, f.CTime = fsstat.IDs(fi)
	return f
}

// superseded reports whether a record that cannot be applied (its content
// is gone, the disk is full, ...) has been replaced by a newer state of
// the same path: that state follows in the stream and is applied in its
// turn, so this one can be dropped instead of retried forever.
func (p *pipeline) superseded(ctx context.Context, it *item, err error) bool {
	if err == nil {
		return false
	}
	msg, gerr := p.stream.GetLastMsgForSubject(ctx, p.keys.StateSubject(p.folder, it.rec.Path))
	return gerr == nil && msg.Sequence > it.seq
}

// applyRoot applies the folder root's own record: its attributes now, its
// mode and mtime when the directories due are set. It never fails the
// record (the root is never parked): an error is logged and counted, and
// the next record of the root, or a restart, tries again.
func (p *pipeline) applyRoot(ctx context.Context, it *item) error {
	if _, err := p.applier.Apply(ctx, it.rec); err != nil {
		p.log.Error("cannot set the folder root's attributes", "err", err)
		p.noteFailure(err)
	}
	p.metrics.applied.WithLabelValues(string(it.rec.Type)).Inc()
	it.entry = &appliedEntry{Type: wire.Dir, Mode: it.rec.Mode, MTime: it.rec.MTime, Attrs: it.rec.AttrsDigest(),
		Time: it.rec.Time}
	return nil
}

// deleteKeepingExcluded applies a tombstone when the source has exclusion
// patterns: what they exclude beneath a deleted directory was never the
// source's to delete, so it stays, with the directories on its way.
func (p *pipeline) deleteKeepingExcluded(it *item, m *exclude.Matcher) error {
	rec := it.rec
	fi, err := p.root.Lstat(rec.Path)
	if err != nil || !fi.IsDir() {
		res, err := p.applier.Apply(context.Background(), rec)
		it.syncDirs = res.SyncDirs
		if err == nil {
			p.metrics.applied.WithLabelValues(string(rec.Type)).Inc()
		}
		return err
	}
	removed, kept, err := p.root.RemoveAllBut(rec.Path, func(path string, isDir bool) bool { return m.Match(path, isDir) })
	it.syncDirs = []string{wire.Parent(rec.Path)}
	if kept {
		it.syncDirs = append(it.syncDirs, rec.Path)
	}
	if err != nil {
		return err
	}
	p.metrics.applied.WithLabelValues(string(rec.Type)).Inc()
	p.metrics.removedTree.Add(float64(removed))
	p.log.Info("removed a directory the source deleted", "path", rec.Path, "removed", removed, "kept_excluded", kept)
	return nil
}
