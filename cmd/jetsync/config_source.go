package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/source"
)

// sourceSchema: a [[folder]] sets sourceFlags; [broker] the embedded
// broker's flags and its TLS files (which, at the top level, are the
// client's for nats).
func sourceSchema() configSchema {
	folder := flagNames(func(fs *flag.FlagSet) { new(sourceFlags).register(fs) })
	brk := flagNames(func(fs *flag.FlagSet) {
		var b brokerFlags
		b.register(fs, "", &tlsFlags{})
		new(tlsFlags).register(fs, "broker")
	})
	return configSchema{folder: folder, broker: brk}
}

// sourceFolder is one folder of a source daemon's config file.
type sourceFolder struct {
	fs *flag.FlagSet
	sf sourceFlags
	cf connFlags
}

// loadSource reads the command line and the config file it names. With
// running (a reload), the daemon-wide settings stay those of running.
func loadSource(args []string, running map[string]string) (*sourceCmd, *configPlan, error) {
	c := newSourceCmd()
	if _, err := parse(c.fs, args); err != nil {
		return nil, nil, err
	}
	sc := sourceSchema()
	var reserved []string
	check := func(file *configFile) error {
		if (c.cf.url == "") == (c.bf.listen == "") {
			return usagef("%s: give exactly one of nats = URL (external broker) or listen = ADDR in [broker] (embedded broker)", file.path)
		}
		if c.bf.listen != "" {
			reserved = []string{"broker", "auth"} // DATA/broker and DATA/auth
		}
		return nil
	}
	plan, err := loadPlan(c.fs, c.config, sc, running, check, func(file *configFile, sec section) (folderUnit, error) {
		return c.folderUnit(file, sc, sec, reserved)
	})
	return c, plan, err
}

// folderUnit builds one folder's settings; the unit runs it.
func (c *sourceCmd) folderUnit(file *configFile, sc configSchema, sec section, reserved []string) (folderUnit, error) {
	f, cfg, err := c.folder(file, sc, sec, reserved)
	if err != nil {
		return folderUnit{}, err
	}
	return folderUnit{name: cfg.Folder, fingerprint: sc.fingerprint(f.fs, file, sec, f.sf.data),
		run: func(ctx context.Context, d *folderDeps) error { return runSourceFolder(ctx, cfg, f.cf, d) }}, nil
}

// folder applies a [[folder]] over the daemon's settings.
func (c *sourceCmd) folder(file *configFile, sc configSchema, sec section, reserved []string) (*sourceFolder, source.Config, error) {
	name, err := file.folderName(sec)
	if err != nil {
		return nil, source.Config{}, err
	}
	f := &sourceFolder{fs: flag.NewFlagSet("folder", flag.ContinueOnError)}
	f.sf.register(f.fs)
	f.cf.register(f.fs)
	f.cf = c.cf // the daemon's connection, for a folder that does not name its own credentials
	if err := sc.applyFolder(f.fs, file, sec); err != nil {
		return nil, source.Config{}, err
	}
	if f.sf.data, err = file.folderData(sec, f.sf.data, c.sf.data, name, reserved...); err != nil {
		return nil, source.Config{}, err
	}
	cfg, err := f.sf.config(nil)
	if err == nil && c.bf.listen == "" {
		err = checkIdentity(&f.cf, access.SourceOf(cfg.Folder))
	}
	if err != nil {
		return nil, source.Config{}, file.folderError(sec, name, err)
	}
	return f, cfg, nil
}

// runSourceFolder runs one folder's source until ctx ends: connected as
// the folder's source, to the embedded broker or to nats, so that each
// folder has only its own rights.
func runSourceFolder(ctx context.Context, cfg source.Config, cf connFlags, d *folderDeps) error {
	cfg.Logger, cfg.Registry = d.log, d.reg
	name, id := "jetsync source "+cfg.Folder, access.SourceOf(cfg.Folder)
	opts := bus.ConnectOptions{Name: name, Logger: d.log}
	var err error
	if d.broker != nil {
		opts.Extra, err = d.broker.ConnectAs(id)
	} else {
		opts, err = cf.options(name, id, d.log)
		opts.KeepTrying = true
	}
	if err != nil {
		return err
	}
	nc, _, src, err := openSource(cfg, opts, d.reg)
	if err != nil {
		return err
	}
	defer nc.Close()
	return src.Run(ctx)
}

// runSourceConfig runs `jetsync source --config FILE`: one embedded
// broker (or connection settings) for every folder of the file.
func runSourceConfig(ctx context.Context, args []string) error {
	hup := notifyReload()
	defer stopReload(hup)
	c, plan, err := loadSource(args, nil)
	if err != nil {
		return err
	}
	log, gov, err := daemonBasics(&c.lf, &c.mf)
	if err != nil {
		return err
	}
	d := &configDaemon{path: c.config, log: log, running: plan, hup: hup,
		load: func(running map[string]string) (*configPlan, error) {
			_, p, err := loadSource(args, running)
			return p, err
		}}
	sv := serving{httpFlags: c.hf, log: log}
	var b *broker.Broker
	if c.bf.listen != "" {
		if b, err = startConfigBroker(c, plan, log); err != nil {
			return err
		}
		defer b.Shutdown()
		sv.nats = b.Server()
		opts, err := monitorOptions(b, log)
		if err != nil {
			return err
		}
		nc, js, err := bus.Connect(opts)
		if err != nil {
			return err
		}
		defer nc.Close()
		sv.js = js
	}
	return d.serve(ctx, sv, gov, &folderDeps{log: log, broker: b})
}

// startConfigBroker starts the embedded broker of every folder.
func startConfigBroker(c *sourceCmd, plan *configPlan, log *slog.Logger) (*broker.Broker, error) {
	if names := plan.names(); len(names) == 1 {
		c.bf.folder = names[0] // for the hints at its first start
	}
	b, err := c.bf.start(c.sf.data, log)
	if err != nil {
		return nil, err
	}
	log.Info("embedded broker ready", "url", b.ClientURL())
	return b, nil
}

// monitorOptions connect to the embedded broker with the monitoring
// credentials, which read every folder's status, for the status page.
func monitorOptions(b *broker.Broker, log *slog.Logger) (bus.ConnectOptions, error) {
	extra, err := b.ConnectAs(access.MonitorID())
	return bus.ConnectOptions{Name: "jetsync source status page", Extra: extra, Logger: log}, err
}

// daemonBasics are the logger and memory governor of a daemon.
func daemonBasics(lf *logFlags, mf *memoryFlags) (*slog.Logger, *memoryGovernor, error) {
	log, err := lf.logger()
	if err != nil {
		return nil, nil, err
	}
	gov, err := mf.governor(log)
	return log, gov, err
}
