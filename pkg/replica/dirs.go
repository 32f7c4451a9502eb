package replica

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jetsync/jetsync/pkg/wire"
)

// flushDirs sets mode and mtime of the directories marked due, deepest
// first, once nothing is in flight: writing a child changes its
// directory's mtime, so a directory's own record cannot fix it for good.
// The marks are dropped only after the directories are set, so a kill in
// between repeats the work instead of losing it.
func (p *pipeline) flushDirs(ctx context.Context) error {
	p.barrier(ctx)
	if err := p.commit(); err != nil {
		return err
	}
	dirs, err := p.store.dirsDue()
	if err != nil || len(dirs) == 0 {
		return err
	}
	sort.Slice(dirs, func(i, j int) bool { return depth(dirs[i]) > depth(dirs[j]) })
	for _, d := range dirs {
		e, err := p.store.applied(d)
		if err != nil || e == nil || e.Type != wire.Dir {
			continue
		}
		if err := p.applier.SetDirMeta(d, e.Mode, e.MTime); err != nil {
			p.applyFailed(d, err)
		}
	}
	if err := p.store.clearDirsDue(dirs); err != nil {
		return fmt.Errorf("clear directories due: %w", err)
	}
	return nil
}

func depth(p string) int { return strings.Count(p, "/") }
