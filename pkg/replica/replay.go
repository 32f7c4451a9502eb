package replica

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// Replays. A signed record stays valid, so someone who can publish on the
// state subjects could publish again an older record the source signed.
// Records carry their publish time, which the source keeps strictly
// increasing (see source.recordClock); a replica that checks signatures
// refuses a record of a path older than the newest it applied of that
// path, or than a deletion of the path or of one of its ancestors.
// Deletions are remembered in bucketTombs (path key -> publish time).

var bucketTombs = []byte("tombs")

// putTomb remembers when path was deleted (or excluded).
func putTomb(tx *bolt.Tx, path string, t int64) error {
	if t == 0 || path == wire.RootPath {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketTombs)
	if err != nil {
		return err
	}
	key := wire.SortKey(path)
	if v := b.Get(key); v != nil {
		if old, n := binary.Varint(v); n > 0 && old >= t {
			return nil
		}
	}
	return b.Put(key, binary.AppendVarint(nil, t))
}

// newestOf is the publish time of the newest record that settled path:
// what was applied to it, or a deletion of it or of an ancestor.
func (s *store) newestOf(path string) (int64, error) {
	var newest int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if path == wire.RootPath {
			if e, err := rootEntry(tx); err == nil && e != nil {
				newest = e.Time
			}
			return nil
		}
		if v := tx.Bucket(bucketApplied).Get(wire.SortKey(path)); v != nil {
			if e, err := unmarshalApplied(v); err == nil {
				newest = e.Time
			}
		}
		tombs := tx.Bucket(bucketTombs)
		if tombs == nil {
			return nil
		}
		for p := path; p != ""; p = wire.Parent(p) {
			if v := tombs.Get(wire.SortKey(p)); v != nil {
				if t, n := binary.Varint(v); n > 0 {
					newest = max(newest, t)
				}
			}
		}
		return nil
	})
	return newest, err
}

// checkReplay refuses rec if the replica applied something newer of its
// path; only a replica that checks signatures, or of an encrypted folder,
// asks (otherwise anyone who may publish may publish anything anyway).
func (p *pipeline) checkReplay(rec *wire.Record) error {
	if !p.signed {
		return nil
	}
	newest, err := p.store.newestOf(rec.Path)
	if err != nil {
		return nil
	}
	if newest = max(newest, p.newestPending(rec.Path)); rec.Time >= newest {
		p.notePending(rec)
		return nil
	}
	p.metrics.errors.WithLabelValues("replayed").Inc()
	return fmt.Errorf("%w: a record of %q published at %d, older than the state applied (published at %d): replayed?",
		wire.ErrMalformed, rec.Path, rec.Time, newest)
}

// pendingTime is the newest record of a path that the dispatcher accepted
// and the committer has not recorded yet, and whether it deleted the
// path.
type pendingTime struct {
	time    int64
	deleted bool
}

// notePending remembers rec until its commit: a replay that arrives while
// a newer record of its path is being applied, or applied and not yet
// committed, is refused as one that arrives after the commit.
func (p *pipeline) notePending(rec *wire.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = make(map[string]pendingTime)
	}
	if old, ok := p.pending[rec.Path]; !ok || rec.Time >= old.time {
		p.pending[rec.Path] = pendingTime{time: rec.Time, deleted: rec.Type == wire.Deleted}
	}
}

// newestPending is newestOf for what is not committed yet: the newest
// pending record of path or deletion of one of its ancestors.
func (p *pipeline) newestPending(path string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	newest := p.pending[path].time
	for a := wire.Parent(path); path != wire.RootPath && a != wire.RootPath; a = wire.Parent(a) {
		if pt := p.pending[a]; pt.deleted {
			newest = max(newest, pt.time)
		}
	}
	return newest
}

// committed forgets the pending records that done recorded (the store
// now answers for them); the map holds no more than what is in flight.
func (p *pipeline) committed(done []*item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range done {
		if it.rec == nil {
			continue
		}
		if pt, ok := p.pending[it.rec.Path]; ok && pt.time <= it.rec.Time {
			delete(p.pending, it.rec.Path)
		}
	}
}
