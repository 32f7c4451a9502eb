package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/replica"
)

type replicaFlags struct {
	folderFlags
	id            string
	workers       int
	verifyEvery   time.Duration
	verifyMaxRate string
	repair        bool
	owners        string
	sourceKey     string
	maxRate       string
	encryption    encryptionFlag
}

func (r *replicaFlags) register(fs *flag.FlagSet) {
	r.folderFlags.register(fs, "directory to keep equal to the source's", "state directory (local index and position)")
	fs.StringVar(&r.id, "id", "", "name of this replica in status reports and of its consumer on the broker, unique per folder (default: host name)")
	fs.IntVar(&r.workers, "workers", 8, "paths applied in parallel")
	fs.DurationVar(&r.verifyEvery, "verify-every", 0, "verify the whole tree against the published state at this interval, every byte read and hashed (e.g. 24h; 0: never); the result shows in status and the metrics")
	fs.StringVar(&r.verifyMaxRate, "verify-max-rate", "0", "bytes per second the scheduled verify reads at most (e.g. 50MiB; 0: no limit)")
	fs.StringVar(&r.maxRate, "max-rate", "0", "bytes per second this replica pulls content at, from the broker's cache and the source, counted as they travel (after compression) (e.g. 10MiB; 0: no limit)")
	fs.BoolVar(&r.repair, "repair", false, "fetch again what a scheduled verify finds different, and remove what should not exist")
	fs.StringVar(&r.sourceKey, "source-key", "", "apply only what the source signed: its public key (\"jetsync-ed25519 ...\"), its SHA256: fingerprint, or a file holding either (the source writes DATA/signing.pub and logs the fingerprint)")
	r.encryption.register(fs, "the folder's encryption key: an encrypted folder is applied only with it")
	fs.StringVar(&r.owners, "owners", "on", "on: give files the source's owners (by name where the name exists here, else by number; needs root or CAP_CHOWN); off: keep this process's")
}

func (r *replicaFlags) config(reg prometheus.Registerer) (replica.Config, error) {
	root, err := r.check()
	if err != nil {
		return replica.Config{}, err
	}
	rate, err := parseByteSize(r.verifyMaxRate)
	if err != nil {
		return replica.Config{}, fmt.Errorf("--verify-max-rate: %w", err)
	}
	maxRate, err := parseByteSize(r.maxRate)
	if err != nil {
		return replica.Config{}, fmt.Errorf("--max-rate: %w", err)
	}
	if r.owners != "on" && r.owners != "off" {
		return replica.Config{}, usagef("--owners must be on or off, not %q", r.owners)
	}
	if r.repair && r.verifyEvery <= 0 {
		return replica.Config{}, usagef("--repair needs --verify-every")
	}
	key, err := parseSourceKey(r.sourceKey)
	if err != nil {
		return replica.Config{}, err
	}
	enc, err := r.encryption.key()
	if err != nil {
		return replica.Config{}, err
	}
	return replica.Config{Folder: r.folder, Root: root, DataDir: r.data, ID: r.id, Workers: r.workers, Registry: reg,
		VerifyEvery: r.verifyEvery, VerifyMaxRate: rate, Repair: r.repair, KeepOwners: r.owners == "off", SourceKey: key,
		MaxRate: maxRate, Encryption: enc}, nil
}

// replicaID is the replica's id: --id, or else the one its credentials
// name, or else the host name. Credentials of another replica or folder
// are refused here, with a clearer message than the broker's.
func replicaID(cf *connFlags, folder, flagID string) (string, error) {
	id, err := cf.identity()
	if err != nil || id.Role != access.Replica {
		if err == nil && flagID == "" {
			flagID, err = os.Hostname()
		}
		return flagID, err
	}
	if flagID == "" {
		flagID = id.ID
	}
	if want := access.ReplicaOf(folder, flagID); id.Name() != want.Name() {
		return "", usagef("--nkey %s holds the credentials of %s, not of %s (--folder %s --id %s)",
			cf.nkey, id.Name(), want.Name(), folder, flagID)
	}
	return flagID, nil
}

// replicaCmd is every flag of `jetsync replica`. A config file sets the
// same flags (see config_replica.go).
type replicaCmd struct {
	fs     *flag.FlagSet
	config string
	lf     logFlags
	rf     replicaFlags
	cf     connFlags
	mf     memoryFlags
	hf     httpFlags
}

func newReplicaCmd() *replicaCmd {
	c := &replicaCmd{fs: flag.NewFlagSet("replica", flag.ContinueOnError)}
	c.hf.register(c.fs, "127.0.0.1:9465")
	c.lf.register(c.fs)
	c.rf.register(c.fs)
	c.cf.register(c.fs)
	c.mf.register(c.fs)
	registerConfig(c.fs, &c.config)
	return c
}

func cmdReplica(ctx context.Context, args []string) error {
	c := newReplicaCmd()
	if _, err := parse(c.fs, args); err != nil {
		return err
	}
	if c.config != "" {
		return runReplicaConfig(ctx, args)
	}
	log, err := c.lf.logger()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	cfg, err := c.rf.config(reg)
	if err != nil {
		return err
	}
	cfg.Logger = log
	gov, err := c.mf.governor(log)
	if err != nil {
		return err
	}
	if cfg.ID, err = replicaID(&c.cf, cfg.Folder, cfg.ID); err != nil {
		return err
	}
	nc, js, err := c.cf.connect("jetsync replica "+cfg.Folder, access.ReplicaOf(cfg.Folder, cfg.ID), true, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	rep, err := replica.New(cfg, js)
	if err != nil {
		return err
	}
	return runServing(ctx, serving{httpFlags: c.hf, reg: reg, log: log, js: js, folder: cfg.Folder}, gov.run, rep.Run,
		(&replicaProgress{rep: rep, log: log}).run)
}
