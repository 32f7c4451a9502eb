package source

import (
	"context"
	"sort"
	"sync"
)

// tracker counts records decided but not yet settled (acknowledged or
// failed), so a step can wait until everything it published is on the
// broker before it publishes tombstones.
type tracker struct {
	mu   sync.Mutex
	n    int64
	idle chan struct{} // closed while n == 0
}

func (t *tracker) add() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
}

func (t *tracker) count() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait returns nil once nothing is pending, or ctx's error, or errStopped
// when abort closes first.
func (t *tracker) wait(ctx context.Context, abort <-chan struct{}) error {
	t.mu.Lock()
	idle := t.idle
	n := t.n
	t.mu.Unlock()
	if n == 0 {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-abort:
		return errStopped
	}
}

// maxRetryPaths bounds the retry set; beyond it a full scan is cheaper
// than remembering paths.
var maxRetryPaths = 10000

// retrySet collects paths whose publication failed for a reason worth
// retrying soon (broker errors, files changing while read, paths that
// vanished under a worker).
type retrySet struct {
	mu       sync.Mutex
	paths    map[string]struct{}
	overflow bool
}

func (r *retrySet) add(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paths == nil {
		r.paths = make(map[string]struct{})
	}
	if len(r.paths) >= maxRetryPaths {
		r.overflow = true
		return
	}
	r.paths[p] = struct{}{}
}

func (r *retrySet) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.paths) == 0 && !r.overflow
}

// take empties the set, returning its paths sorted and whether it
// overflowed.
func (r *retrySet) take() ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.paths))
	for p := range r.paths {
		out = append(out, p)
	}
	overflow := r.overflow
	r.paths, r.overflow = nil, false
	sort.Strings(out)
	return out, overflow
}
