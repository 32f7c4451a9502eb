package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sort"
	"sync"
	"syscall"
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

// configPlan is a daemon's settings from its command line and file.
type configPlan struct {
	daemon  map[string]string // process-wide settings, by flag name
	changed []string          // at a reload: those the file changes, left as running
	units   []folderUnit
}

func (p *configPlan) names() []string {
	var out []string
	for _, u := range p.units {
		out = append(out, u.name)
	}
	return out
}

// loadDaemon applies the file's daemon-wide settings to fs. At a reload
// (running: the process-wide settings in use) those that differ are set
// back to the running values, which the folders are then built with, and
// listed in changed: they need a restart.
func loadDaemon(fs *flag.FlagSet, file *configFile, sc configSchema, running map[string]string) (*configPlan, error) {
	given := givenFlags(fs)
	if err := sc.checkCommandLine(given); err != nil {
		return nil, err
	}
	if err := sc.applyTop(fs, file, given); err != nil {
		return nil, err
	}
	plan := &configPlan{daemon: sc.processWide(fs)}
	if running == nil {
		return plan, nil
	}
	for k, v := range plan.daemon {
		if old := running[k]; old != v {
			plan.changed = append(plan.changed, fmt.Sprintf("%s (running %q, file %q)", k, old, v))
			if err := fs.Set(k, old); err != nil {
				return nil, fmt.Errorf("keep %s: %w", k, err)
			}
		}
	}
	sort.Strings(plan.changed)
	plan.daemon = running
	return plan, nil
}

// notifyReload catches SIGHUP from the start of a daemon run from a
// config file: its default action would end the process.
func notifyReload() chan os.Signal {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup
}

func stopReload(hup chan os.Signal) { signal.Stop(hup) }

// configDaemon runs the folders of a config file and applies the file
// again on SIGHUP.
type configDaemon struct {
	path    string
	log     *slog.Logger
	running *configPlan
	hup     chan os.Signal
	// load reads the command line and the file again, keeping the
	// running process-wide settings.
	load func(running map[string]string) (*configPlan, error)
}

// serve runs the folders next to the daemon's HTTP endpoints: /metrics
// has every folder's series, /healthz is healthy while every folder runs.
func (d *configDaemon) serve(ctx context.Context, sv serving, gov *memoryGovernor, deps *folderDeps) error {
	sup := newSupervisor(deps)
	sv.reg, sv.gather, sv.health = sup.metrics.base, sup.metrics, sup.health
	return runServing(ctx, sv, gov.run, func(ctx context.Context) error { return d.run(ctx, sup) })
}

func (d *configDaemon) run(ctx context.Context, sup *supervisor) error {
	sup.apply(ctx, d.running.units, "folder started")
	d.log.Info("running the folders of the config file", "config", d.path, "folders", d.running.names())
	for {
		select {
		case <-ctx.Done():
			sup.wait()
			return nil
		case <-d.hup:
			d.reload(ctx, sup)
		}
	}
}

// reload applies the file again, or, if it is not valid, changes nothing.
func (d *configDaemon) reload(ctx context.Context, sup *supervisor) {
	next, err := d.load(d.running.daemon)
	if err != nil {
		d.log.Error("config not reloaded: the running configuration stays", "config", d.path, "err", err)
		return
	}
	for _, c := range next.changed {
		d.log.Warn("config reload: a daemon-wide setting changed; it needs a restart and keeps its running value", "config", d.path, "setting", c)
	}
	sup.apply(ctx, next.units, "folder added")
	d.running = next
	d.log.Info("config reloaded", "config", d.path, "folders", next.names())
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

// Pauses before a failed folder starts again.
const (
	minRestartPause = time.Second
	maxRestartPause = time.Minute
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
		c.setErr(nil)
	}
}

// runOnce runs the folder with a registry of its own, which /metrics
// serves while it runs.
func (s *supervisor) runOnce(ctx context.Context, c *child) error {
	d := s.deps
	d.reg = prometheus.NewRegistry()
	s.metrics.set(c.unit.name, d.reg)
	defer s.metrics.remove(c.unit.name, d.reg)
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
