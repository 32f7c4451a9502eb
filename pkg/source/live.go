package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jetsync/jetsync/pkg/watch"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Retry pacing for the retry set.
var (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// control is the one goroutine that decides what to publish: the initial
// scan, then watcher batches, periodic scans, retries and recoveries, one
// step at a time, so no path is ever published twice concurrently.
func (s *Source) control(ctx context.Context, batches <-chan watch.Batch) error {
	defer close(s.jobs)
	watching, err := s.awaitWatcher(ctx)
	if err != nil {
		return quiet(ctx, err)
	}
	watchFailed := s.watchFailed
	if !watching {
		watchFailed = nil
	}
	if err := s.step(ctx, s.fullScan); err != nil {
		return quiet(ctx, err)
	}
	s.prog.initialDone.Store(true)
	s.kickStatus()
	return quiet(ctx, s.live(ctx, batches, watchFailed))
}

func (s *Source) live(ctx context.Context, batches <-chan watch.Batch, watchFailed <-chan struct{}) error {
	scan := newScanTimer(s.cfg.ScanInterval)
	defer scan.Stop()
	retryTick := time.NewTicker(retryMin / 4)
	defer retryTick.Stop()
	r := retryPacer{wait: retryMin}
	busyTick := time.NewTicker(s.busyPeriod())
	defer busyTick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-s.recoverCh:
			err = s.recoverAndScan(ctx, false)
		case b := <-batches:
			err = s.step(ctx, func(ctx context.Context) error { return s.applyBatch(ctx, b) })
		case <-scan.C():
			err = s.step(ctx, s.fullScan)
			scan.Reset()
		case <-retryTick.C:
			if r.due(&s.retry) {
				err = s.step(ctx, s.retryRound)
				r.after(&s.retry)
				if err == nil && s.retry.empty() {
					s.prog.health.ok() // whatever failed is published or moot
				}
			}
		case <-busyTick.C:
			if len(s.busy.due(s.busyPeriod())) > 0 {
				err = s.step(ctx, s.busyRound)
			}
		case <-watchFailed:
			watchFailed = nil
			err = s.watcherLost()
		}
		if err != nil {
			return err
		}
	}
}

// step runs fn; if a recovery interrupted it, it recovers and rescans,
// since fn's work is then incomplete.
func (s *Source) step(ctx context.Context, fn func(context.Context) error) error {
	if err := s.awaitConnected(ctx); err != nil {
		return err
	}
	err := fn(ctx)
	if errors.Is(err, errRecover) {
		return s.recoverAndScan(ctx, true)
	}
	return err
}

// recoverAndScan checks the broker and, if it lost data (or force is set),
// runs a full scan, which republishes what the index no longer marks as
// published.
func (s *Source) recoverAndScan(ctx context.Context, force bool) error {
	for {
		select {
		case <-s.recoverCh:
		default:
		}
		lost, err := s.recover(ctx)
		if err != nil || !(lost || force) {
			return err
		}
		err = s.fullScan(ctx)
		if !errors.Is(err, errRecover) {
			return err
		}
		force = true
	}
}

// awaitConnected holds a step back while the broker is unreachable, so
// the tree is not read in vain; the watcher keeps coalescing meanwhile.
func (s *Source) awaitConnected(ctx context.Context) error {
	for !s.nc.IsConnected() {
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// applyBatch handles one watcher batch.
func (s *Source) applyBatch(ctx context.Context, b watch.Batch) error {
	s.log.Debug("batch", "paths", b.Paths, "dirs", b.Dirs, "rescan", b.Rescan)
	if b.Rescan {
		return s.fullScan(ctx)
	}
	return s.visitAll(ctx, b.Paths, b.Dirs, b.Root)
}

// visitAll examines paths, walks dirs, and looks again at the parent
// directory of each: adding or removing an entry changes its mtime, which
// no notification names.
func (s *Source) visitAll(ctx context.Context, paths, walk []string, root bool) error {
	st := &step{}
	dirs := make(map[string]bool, len(walk))
	for _, d := range walk {
		dirs[d] = true
	}
	for _, p := range paths {
		if underAny(p, dirs) {
			continue // the walk of that directory covers it
		}
		if err := s.visitPath(ctx, st, p, false); err != nil {
			return err
		}
	}
	for _, d := range walk {
		if err := s.visitPath(ctx, st, d, true); err != nil {
			return err
		}
	}
	for _, list := range [][]string{paths, walk} {
		for _, p := range list {
			if parent := wire.Parent(p); parent != "" && !underAny(parent, dirs) {
				if err := s.visitPath(ctx, st, parent, false); err != nil {
					return err
				}
			}
		}
	}
	if root || topLevel(paths, walk) {
		if err := s.visitRoot(ctx); err != nil {
			return err
		}
	}
	return s.finishStep(ctx, st)
}

func underAny(p string, dirs map[string]bool) bool {
	for ; p != ""; p = wire.Parent(p) {
		if dirs[p] {
			return true
		}
	}
	return false
}

// retryRound looks again at the paths whose publication failed.
func (s *Source) retryRound(ctx context.Context) error {
	paths, overflow := s.retry.take()
	if overflow {
		return s.fullScan(ctx)
	}
	return s.visitAll(ctx, paths, nil, false)
}

// retryPacer spaces retry rounds, backing off while they keep failing.
type retryPacer struct {
	wait time.Duration
	next time.Time
}

func (r *retryPacer) due(set *retrySet) bool {
	return !set.empty() && !time.Now().Before(r.next)
}

func (r *retryPacer) after(set *retrySet) {
	if set.empty() {
		r.wait = retryMin
	} else {
		r.wait = min(2*r.wait, retryMax)
	}
	r.next = time.Now().Add(r.wait)
}

// awaitWatcher waits until the watches are in place, so the initial scan
// misses nothing, or until the watcher failed (watching false).
func (s *Source) awaitWatcher(ctx context.Context) (watching bool, err error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-s.watcher.Ready():
		if ws := s.watcher.Stats(); ws.Capped {
			s.logCapped(ws.Watched)
		}
		return true, nil
	case <-s.watchFailed:
		return false, s.watcherLost()
	}
}

func (s *Source) watcherLost() error {
	if s.cfg.ScanInterval < 0 {
		return errors.New("watch tree: watcher failed and the periodic scan is disabled")
	}
	s.log.Warn("continuing without change notifications; changes are found by the periodic scan",
		"interval", s.cfg.ScanInterval)
	return nil
}

func (s *Source) logCapped(watched int) {
	if s.cappedLogged.CompareAndSwap(false, true) {
		s.log.Warn(fmt.Sprintf("watching %d directories; the rest is covered by the periodic scan every %s",
			watched, s.cfg.ScanInterval))
	}
}

// quiet turns the errors of a cancelled run into nil.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// scanTimer fires every interval after the previous scan; a negative
// interval never fires.
type scanTimer struct {
	t        *time.Timer
	interval time.Duration
}

func newScanTimer(d time.Duration) *scanTimer {
	st := &scanTimer{interval: d}
	if d > 0 {
		st.t = time.NewTimer(d)
	}
	return st
}

func (st *scanTimer) C() <-chan time.Time {
	if st.t == nil {
		return nil
	}
	return st.t.C
}

func (st *scanTimer) Reset() {
	if st.t != nil {
		st.t.Reset(st.interval)
	}
}

func (st *scanTimer) Stop() {
	if st.t != nil {
		st.t.Stop()
	}
}
