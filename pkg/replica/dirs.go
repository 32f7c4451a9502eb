package replica

import (
	"context"
	"sort"
	"strings"

	"github.com/jetsync/jetsync/pkg/wire"
)

// flushDirs sets mode and mtime of directories whose children changed,
// deepest first, once nothing is in flight: writing a child changes its
// directory's mtime, so a directory's own record cannot fix it for good.
func (p *pipeline) flushDirs(ctx context.Context) error {
	p.barrier(ctx)
	if err := p.commit(); err != nil {
		return err
	}
	p.mu.Lock()
	dirs := make([]string, 0, len(p.dirty))
	for d := range p.dirty {
		dirs = append(dirs, d)
	}
	clear(p.dirty)
	p.mu.Unlock()
	sort.Slice(dirs, func(i, j int) bool { return depth(dirs[i]) > depth(dirs[j]) })
	for _, d := range dirs {
		if d == "" {
			continue
		}
		e, err := p.r.store.applied(d)
		if err != nil || e == nil || e.Type != wire.Dir {
			continue
		}
		if err := p.applier.SetDirMeta(d, e.Mode, e.MTime); err != nil {
			p.r.applyFailed(d, err)
		}
	}
	return nil
}

func depth(p string) int { return strings.Count(p, "/") }
