package watch

import (
	"slices"
	"strings"
	"time"
)

// pending accumulates the next batch. Sets rather than event lists keep
// memory proportional to distinct paths, and MaxBatch bounds even that: past
// it the batch degrades into a rescan request and stops remembering paths.
type pending struct {
	debounce time.Duration
	maxDelay time.Duration
	maxBatch int
	timer    *time.Timer

	paths  map[string]struct{}
	dirs   map[string]struct{}
	rescan bool
	root   bool      // the root directory's own attributes changed
	first  time.Time // arrival of the batch's first event; zero when empty
	due    bool      // the timer fired; flush as soon as the outbox is free
}

func newPending(o Options) *pending {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pending{
		debounce: o.Debounce,
		maxDelay: o.MaxDelay,
		maxBatch: o.MaxBatch,
		timer:    t,
		paths:    make(map[string]struct{}),
		dirs:     make(map[string]struct{}),
	}
}

func (p *pending) stop() { p.timer.Stop() }

func (p *pending) addPath(rel string, now time.Time) {
	if !p.rescan {
		p.paths[rel] = struct{}{}
		if len(p.paths) > p.maxBatch {
			p.collapse()
		}
	}
	p.arm(now)
}

func (p *pending) addDir(rel string, now time.Time) {
	if !p.rescan {
		p.dirs[rel] = struct{}{}
	}
	p.arm(now)
}

// markRoot notes a change of the root directory itself.
func (p *pending) markRoot(now time.Time) {
	p.root = true
	p.arm(now)
}

func (p *pending) markRescan(now time.Time) {
	p.collapse()
	p.arm(now)
}

func (p *pending) collapse() {
	p.rescan = true
	// Fresh maps rather than clear(): clear keeps the buckets of a huge
	// batch alive until the next flush.
	p.paths = make(map[string]struct{})
	p.dirs = make(map[string]struct{})
}

// arm pushes the flush deadline to Debounce from now, but never past
// MaxDelay after the first event, so a steady trickle cannot starve the
// consumer.
func (p *pending) arm(now time.Time) {
	if p.due {
		return
	}
	if p.first.IsZero() {
		p.first = now
	}
	d := min(p.debounce, p.first.Add(p.maxDelay).Sub(now))
	p.timer.Reset(max(d, 0))
}

func (p *pending) empty() bool {
	return !p.rescan && !p.root && len(p.paths) == 0 && len(p.dirs) == 0
}

// take returns the accumulated batch and starts a new one; ok is false if
// there was nothing to report.
func (p *pending) take() (b Batch, ok bool) {
	if !p.empty() {
		b = Batch{Rescan: p.rescan, Root: p.root}
		if !p.rescan {
			b.Paths = sortedKeys(p.paths)
			b.Dirs = topmost(p.dirs)
		}
		ok = true
	}
	p.paths = make(map[string]struct{})
	p.dirs = make(map[string]struct{})
	p.rescan, p.root = false, false
	p.first = time.Time{}
	p.due = false
	p.timer.Stop()
	return b, ok
}

func sortedKeys(set map[string]struct{}) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// topmost drops directories that have an ancestor in the set, since the
// consumer walks each listed directory recursively anyway.
func topmost(dirs map[string]struct{}) []string {
	out := make([]string, 0, len(dirs))
	for d := range dirs {
		if !hasAncestorIn(d, dirs) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return out
}

func hasAncestorIn(rel string, set map[string]struct{}) bool {
	for i := strings.LastIndexByte(rel, '/'); i > 0; i = strings.LastIndexByte(rel, '/') {
		rel = rel[:i]
		if _, ok := set[rel]; ok {
			return true
		}
	}
	return false
}
