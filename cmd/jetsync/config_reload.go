package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

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

// loadPlan reads the config file at path over fs, whose command line is
// parsed: the daemon-wide settings (loadDaemon), then check of them by
// the role, then each [[folder]] as the unit that runs it.
func loadPlan(fs *flag.FlagSet, path string, sc configSchema, running map[string]string,
	check func(*configFile) error, unit func(*configFile, section) (folderUnit, error)) (*configPlan, error) {
	file, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	plan, err := loadDaemon(fs, file, sc, running)
	if err != nil {
		return nil, err
	}
	if err := check(file); err != nil {
		return nil, err
	}
	for _, sec := range file.folders {
		u, err := unit(file, sec)
		if err != nil {
			return nil, err
		}
		plan.units = append(plan.units, u)
	}
	return plan, file.checkFolders(plan.names())
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
