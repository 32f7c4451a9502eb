package main

import (
	"context"
	"flag"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/replica"
)

// replicaSchema: a [[folder]] sets replicaFlags (and credentials); a
// replica has no [broker].
func replicaSchema() configSchema {
	return configSchema{folder: flagNames(func(fs *flag.FlagSet) { new(replicaFlags).register(fs) })}
}

// replicaFolder is one folder of a replica daemon's config file.
type replicaFolder struct {
	fs *flag.FlagSet
	rf replicaFlags
	cf connFlags
}

// loadReplica reads the command line and the config file it names. With
// running (a reload), the daemon-wide settings stay those of running.
func loadReplica(args []string, running map[string]string) (*replicaCmd, *configPlan, error) {
	c := newReplicaCmd()
	if _, err := parse(c.fs, args); err != nil {
		return nil, nil, err
	}
	sc := replicaSchema()
	check := func(file *configFile) error {
		if c.cf.url == "" {
			return usagef("%s: nats = URL is required", file.path)
		}
		return nil
	}
	plan, err := loadPlan(c.fs, c.config, sc, running, check, func(file *configFile, sec section) (folderUnit, error) {
		return c.folderUnit(file, sc, sec)
	})
	return c, plan, err
}

// folderUnit builds one folder's settings; the unit runs it.
func (c *replicaCmd) folderUnit(file *configFile, sc configSchema, sec section) (folderUnit, error) {
	f, cfg, err := c.folder(file, sc, sec)
	if err != nil {
		return folderUnit{}, err
	}
	return folderUnit{name: cfg.Folder, fingerprint: sc.fingerprint(f.fs, file, sec, f.rf.data, cfg.ID),
		run: func(ctx context.Context, d *folderDeps) error { return runReplicaFolder(ctx, cfg, f.cf, d) }}, nil
}

// folder applies a [[folder]] over the daemon's settings.
func (c *replicaCmd) folder(file *configFile, sc configSchema, sec section) (*replicaFolder, replica.Config, error) {
	name, err := file.folderName(sec)
	if err != nil {
		return nil, replica.Config{}, err
	}
	f := &replicaFolder{fs: flag.NewFlagSet("folder", flag.ContinueOnError)}
	f.rf.register(f.fs)
	f.cf.register(f.fs)
	f.cf = c.cf // the daemon's connection; a folder names its own credentials
	if err := sc.applyFolder(f.fs, file, sec); err != nil {
		return nil, replica.Config{}, err
	}
	if f.rf.data, err = file.folderData(sec, f.rf.data, c.rf.data, name); err != nil {
		return nil, replica.Config{}, err
	}
	cfg, err := f.rf.config(nil)
	if err == nil {
		cfg.ID, err = replicaID(&f.cf, cfg.Folder, cfg.ID)
	}
	if err != nil {
		return nil, replica.Config{}, file.folderError(sec, name, err)
	}
	return f, cfg, nil
}

// runReplicaFolder runs one folder's replica until ctx ends, connected
// with the folder's credentials.
func runReplicaFolder(ctx context.Context, cfg replica.Config, cf connFlags, d *folderDeps) error {
	cfg.Logger, cfg.Registry = d.log, d.reg
	nc, js, err := cf.connect("jetsync replica "+cfg.Folder, access.ReplicaOf(cfg.Folder, cfg.ID), true, d.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	rep, err := replica.New(cfg, js)
	if err != nil {
		return err
	}
	return rep.Run(ctx)
}

// runReplicaConfig runs `jetsync replica --config FILE`: every folder of
// the file in one process.
func runReplicaConfig(ctx context.Context, args []string) error {
	hup := notifyReload()
	defer stopReload(hup)
	c, plan, err := loadReplica(args, nil)
	if err != nil {
		return err
	}
	log, gov, err := daemonBasics(&c.lf, &c.mf)
	if err != nil {
		return err
	}
	d := &configDaemon{path: c.config, log: log, running: plan, hup: hup,
		load: func(running map[string]string) (*configPlan, error) {
			_, p, err := loadReplica(args, running)
			return p, err
		}}
	// No status page: a replica's credentials read only its own folder's
	// status; the page of the broker's host shows every folder.
	return d.serve(ctx, serving{httpFlags: c.hf, log: log}, gov, &folderDeps{log: log})
}
