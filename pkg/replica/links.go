package replica

import (
	"context"
	"hash/maphash"
	"io/fs"
	"os"
	"sync"

	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/wire"
)

// linker makes the names of a hard-link group one file again on the
// replica: a file record with a link group becomes a new name of a file
// already applied for the same group, with the same content and
// attributes, instead of a copy. Records of one group are applied one at
// a time (striped locks), so a name applied by another worker is found;
// pending holds what was applied and not yet committed to the store.
type linker struct {
	stripes [64]sync.Mutex
	seed    maphash.Seed
	mu      sync.Mutex
	pending map[string]map[string]*appliedEntry // group -> path -> entry
}

func newLinker() *linker {
	return &linker{seed: maphash.MakeSeed(), pending: map[string]map[string]*appliedEntry{}}
}

func (l *linker) lock(link string) *sync.Mutex {
	m := &l.stripes[maphash.String(l.seed, link)%uint64(len(l.stripes))]
	m.Lock()
	return m
}

func (l *linker) applied(link, path string, e *appliedEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[link] == nil {
		l.pending[link] = map[string]*appliedEntry{}
	}
	l.pending[link][path] = e
}

// recorded drops the pending entries items wrote to the store.
func (l *linker) recorded(items []*item) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, it := range items {
		if it.entry == nil || it.entry.Link == "" {
			continue
		}
		if g := l.pending[it.entry.Link]; g != nil && g[it.rec.Path] == it.entry {
			delete(g, it.rec.Path)
			if len(g) == 0 {
				delete(l.pending, it.entry.Link)
			}
		}
	}
}

func (l *linker) pendingOf(link string) map[string]*appliedEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*appliedEntry, len(l.pending[link]))
	for p, e := range l.pending[link] {
		out[p] = e
	}
	return out
}

// applyLinked applies a file record of a hard-link group: as a new name
// of a peer when one fits, else as any file.
func (p *pipeline) applyLinked(ctx context.Context, it *item) error {
	rec := it.rec
	defer p.links.lock(rec.Link).Unlock()
	linked, err := p.linkToPeer(it)
	if err != nil {
		return err
	}
	if !linked {
		if err := p.applyOne(ctx, it); err != nil {
			return err
		}
	}
	if it.entry != nil {
		p.links.applied(rec.Link, rec.Path, it.entry)
	}
	return nil
}

// linkToPeer makes it.rec.Path a name of a file applied for the same
// group, with the record's content and attributes, and reports whether
// it did. A peer whose fingerprint moved only by its ctime (another name
// linked to it since) is trusted after its content is hashed.
func (p *pipeline) linkToPeer(it *item) (bool, error) {
	rec := it.rec
	cands := p.links.pendingOf(rec.Link)
	stored, err := p.store.linkPeers(rec.Link)
	if err != nil {
		return false, err
	}
	for _, path := range stored {
		if _, ok := cands[path]; !ok {
			cands[path] = nil
		}
	}
	target, _ := p.root.Lstat(rec.Path)
	for path, e := range cands {
		if path == rec.Path {
			continue
		}
		if e == nil {
			if e, err = p.store.applied(path); err != nil || e == nil {
				continue
			}
		}
		pfi, ok := p.peerFits(path, e, rec)
		if !ok {
			continue
		}
		if target != nil && sameFile(target, pfi) {
			p.metrics.unchanged.Inc() // already a name of that file
			it.entry = p.entryFor(rec, target)
			return true, nil
		}
		if err := p.root.HardLinkNoSync(path, rec.Path); err != nil {
			p.log.Debug("cannot link; writing a copy", "path", rec.Path, "to", path, "err", err)
			continue
		}
		it.syncDirs = []string{wire.Parent(rec.Path)}
		p.metrics.linked.Inc()
		p.metrics.applied.WithLabelValues(string(rec.Type)).Inc()
		it.entry = p.entryFor(rec, nil)
		return true, nil
	}
	return false, nil
}

// peerFits reports whether the file at path, applied as e, is what rec
// wants, and returns its lstat.
func (p *pipeline) peerFits(path string, e *appliedEntry, rec *wire.Record) (fs.FileInfo, bool) {
	if e.Type != wire.File || e.Link != rec.Link || e.Hash != rec.Hash || e.Size != rec.Size ||
		e.Mode != rec.Mode || e.MTime != rec.MTime || e.Attrs != rec.AttrsDigest() {
		return nil, false
	}
	fi, err := p.root.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	fp := fingerprintOf(fi)
	if fp.same(e.Disk) {
		return fi, true
	}
	moved := e.Disk
	moved.CTime = fp.CTime
	if fp != moved {
		return nil, false
	}
	h, n, err := p.applier.HashFile(path)
	return fi, err == nil && n == rec.Size && h == rec.Hash
}

func sameFile(a, b fs.FileInfo) bool {
	ia, _ := fsstat.IDs(a)
	ib, _ := fsstat.IDs(b)
	return ia != 0 && ia == ib && os.SameFile(a, b)
}
