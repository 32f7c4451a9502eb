package replica

import (
	"strings"

	"github.com/jetsync/jetsync/pkg/wire"
)

// scheduler decides which scheduled records may be applied now. Two
// records conflict when they name the same path, or when one names an
// ancestor of the other and that ancestor's record is not a directory (a
// file, symlink or tombstone there replaces or removes the other's
// parent, while a directory record leaves what lies beneath alone). A
// record is released to the workers once no earlier unfinished record
// conflicts with it; records of one path, and of an ancestor and its
// descendants, are thus applied in stream order, whatever the stream
// holds, and any sequence of states converges to the latest one of each
// path. The caller holds pipeline.mu.
type scheduler struct {
	ready    []*item // released, not taken by a worker yet
	released claims  // records released and not finished
	held     []*item // waiting for an earlier conflicting record, in stream order
	heldBy   claims  // claims of held
}

// claims counts the paths unfinished records occupy.
type claims struct {
	at     map[string]int // records by path
	nonDir map[string]int // records that are not directories, by path
	below  map[string]int // records strictly beneath a path, by ancestor
}

func newClaims() claims {
	return claims{at: map[string]int{}, nonDir: map[string]int{}, below: map[string]int{}}
}

func (c *claims) empty() bool { return len(c.at) == 0 }

// add records its claim (n = 1) or drops it (n = -1).
func (c *claims) add(it *item, n int) {
	path := it.rec.Path
	bump(c.at, path, n)
	if it.rec.Type != wire.Dir {
		bump(c.nonDir, path, n)
	}
	for a := wire.Parent(path); ; a = wire.Parent(a) {
		bump(c.below, a, n)
		if a == "" {
			return
		}
	}
}

func bump(m map[string]int, k string, n int) {
	if m[k] += n; m[k] == 0 {
		delete(m, k)
	}
}

// blocks reports whether a claimed record conflicts with it.
func (c *claims) blocks(it *item) bool {
	if c.empty() {
		return false
	}
	path := it.rec.Path
	if c.at[path] > 0 {
		return true
	}
	if it.rec.Type != wire.Dir && c.below[path] > 0 {
		return true
	}
	for a := path; strings.Contains(a, "/"); {
		a = wire.Parent(a)
		if c.nonDir[a] > 0 {
			return true
		}
	}
	return false
}

func newScheduler() scheduler { return scheduler{released: newClaims(), heldBy: newClaims()} }

// add takes a newly scheduled record, the latest in stream order.
func (s *scheduler) add(it *item) {
	if s.released.blocks(it) || s.heldBy.blocks(it) {
		s.held = append(s.held, it)
		s.heldBy.add(it, 1)
		return
	}
	s.release(it)
}

func (s *scheduler) release(it *item) {
	s.released.add(it, 1)
	s.ready = append(s.ready, it)
}

// take returns the next released record, or nil.
func (s *scheduler) take() *item {
	if len(s.ready) == 0 {
		return nil
	}
	it := s.ready[0]
	s.ready[0] = nil
	s.ready = s.ready[1:]
	return it
}

// done drops a finished record's claim and releases the held records no
// earlier unfinished record conflicts with any more. It reports whether
// it released any.
func (s *scheduler) done(it *item) bool {
	s.released.add(it, -1)
	if len(s.held) == 0 {
		return false
	}
	held := s.held
	s.held, s.heldBy = held[:0], newClaims()
	released := false
	for _, h := range held {
		if s.released.blocks(h) || s.heldBy.blocks(h) {
			s.held = append(s.held, h)
			s.heldBy.add(h, 1)
			continue
		}
		s.release(h)
		released = true
	}
	clear(held[len(s.held):])
	return released
}
