package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/broker"
)

// folderUnit is one folder of a config file, ready to run.
type folderUnit struct {
	name string
	// fingerprint changes when anything the folder runs with does: a
	// reload restarts it then.
	fingerprint string
	run         func(ctx context.Context, d *folderDeps) error
}

// folderDeps is what a folder's run gets from its daemon.
type folderDeps struct {
	log    *slog.Logger
	broker *broker.Broker       // the source's embedded broker, or nil
	reg    *prometheus.Registry // the folder's own, for this run
}

// supervisor runs each folder as a child with its own context, starting
// a failed one again after a pause.
type supervisor struct {
	deps     folderDeps
	metrics  *folderMetrics
	mu       sync.Mutex
	children map[string]*child
}

type child struct {
	unit   folderUnit
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error // why its last run ended, while it waits to start again
}

func newSupervisor(deps *folderDeps) *supervisor {
	return &supervisor{deps: *deps, metrics: newFolderMetrics(), children: map[string]*child{}}
}

// apply makes the running folders those of units: it stops the folders
// no longer there (cleanly: their state stays on disk), restarts those
// whose settings changed and starts the new ones (logging each with
// added), one log line each.
func (s *supervisor) apply(ctx context.Context, units []folderUnit, added string) {
	want := map[string]folderUnit{}
	for _, u := range units {
		want[u.name] = u
	}
	for _, name := range s.names() {
		c := s.child(name)
		u, ok := want[name]
		switch {
		case !ok:
			s.stop(c)
			s.deps.log.Info("folder removed", "folder", name)
		case u.fingerprint != c.unit.fingerprint:
			s.stop(c)
			s.start(ctx, u)
			s.deps.log.Info("folder restarted: its settings changed", "folder", name)
		}
	}
	for _, u := range units {
		if s.child(u.name) == nil {
			s.start(ctx, u)
			s.deps.log.Info(added, "folder", u.name)
		}
	}
}

func (s *supervisor) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.children {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (s *supervisor) child(name string) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.children[name]
}

func (s *supervisor) start(ctx context.Context, u folderUnit) {
	cctx, cancel := context.WithCancel(ctx)
	c := &child{unit: u, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.children[u.name] = c
	s.mu.Unlock()
	go s.keepRunning(cctx, c)
}

// stop ends a folder's run and waits for it.
func (s *supervisor) stop(c *child) {
	c.cancel()
	<-c.done
	s.mu.Lock()
	delete(s.children, c.unit.name)
	s.mu.Unlock()
}

// wait waits for every folder to stop (their context is done).
func (s *supervisor) wait() {
	for _, name := range s.names() {
		if c := s.child(name); c != nil {
			<-c.done
		}
	}
}

// Pauses before a failed folder starts again, and how long its next run
// must last for it to count as running again.
const (
	minRestartPause = time.Second
	maxRestartPause = time.Minute
	healthyAfter    = 10 * time.Second
)

// keepRunning runs a folder until ctx ends, starting it again after a
// pause whenever it fails: one folder's trouble stops no other.
func (s *supervisor) keepRunning(ctx context.Context, c *child) {
	defer close(c.done)
	pause := minRestartPause
	for {
		started := time.Now()
		err := s.runOnce(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped by itself")
		}
		c.setErr(err)
		if time.Since(started) > maxRestartPause {
			pause = minRestartPause
		}
		s.deps.log.Error("folder failed; starting it again", "folder", c.unit.name, "err", err, "pause", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, maxRestartPause)
	}
}

// runOnce runs the folder with a registry of its own, which /metrics
// serves while it runs.
func (s *supervisor) runOnce(ctx context.Context, c *child) error {
	d := s.deps
	d.reg = prometheus.NewRegistry()
	s.metrics.set(c.unit.name, d.reg)
	defer s.metrics.remove(c.unit.name, d.reg)
	// A folder that failed counts as failed until its new run has lasted
	// a while, not during each attempt.
	healed := time.AfterFunc(healthyAfter, func() { c.setErr(nil) })
	defer healed.Stop()
	return c.unit.run(ctx, &d)
}

func (c *child) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// health is nil while every folder runs, else names those that failed.
func (s *supervisor) health() error {
	var errs []error
	for _, name := range s.names() {
		c := s.child(name)
		if c == nil {
			continue
		}
		c.mu.Lock()
		if c.err != nil {
			errs = append(errs, fmt.Errorf("folder %s: %w", name, c.err))
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}
