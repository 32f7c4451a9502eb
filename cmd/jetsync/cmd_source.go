package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/status"
	"github.com/jetsync/jetsync/pkg/wire"
)

type sourceFlags struct {
	folderFlags
	scanInterval   time.Duration
	maxWatches     int
	workers        int
	replicas       int
	allowEmptyRoot bool
	tombstoneTTL   time.Duration
	gcInterval     time.Duration
	contentCache   string
	compress       string
	maxStaleness   time.Duration
	exclude        excludeFlags
	maxRate        string
	encryption     encryptionFlag
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	s.folderFlags.register(fs, "directory to publish", "state directory (local index; with --listen, the embedded broker's store in DATA/broker and the credentials it admits in DATA/auth)")
	fs.DurationVar(&s.scanInterval, "scan-interval", 10*time.Minute, "periodic full stat-scan, a safety net behind the watcher (0 disables)")
	fs.IntVar(&s.maxWatches, "max-watches", 0, "cap on watched directories (0: 100000 on Linux, 20000 on FreeBSD); beyond it the periodic scan finds changes")
	fs.IntVar(&s.workers, "workers", 4, "files read and hashed in parallel")
	fs.BoolVar(&s.allowEmptyRoot, "allow-empty-root", false, "publish deletes when the whole tree is found empty (by default taken for an unmounted volume and refused)")
	fs.DurationVar(&s.tombstoneTTL, "tombstone-ttl", 0, "how long the broker keeps delete markers, e.g. 720h (0: forever); replicas away longer reconcile")
	fs.DurationVar(&s.gcInterval, "gc-interval", 0, "no longer used (the broker keeps no content beyond --content-cache); accepted so that old service files still start")
	fs.StringVar(&s.contentCache, "content-cache", "1GiB", "bound of the broker's cache of recently changed content, which replicas apply while this source is unreachable (e.g. 256MiB; 0 turns it off)")
	fs.IntVar(&s.replicas, "stream-replicas", 1, "JetStream replicas of the folder stream (3 on a 3-node cluster)")
	fs.DurationVar(&s.maxStaleness, "max-staleness", source.DefaultMaxStaleness, "how far behind a file that never stops changing its published version may be (see docs/GUARANTEES.md)")
	s.exclude.register(fs)
	fs.StringVar(&s.maxRate, "max-rate", "0", "bytes per second of file content this source reads to answer replicas' content requests, all replicas together; what it sends, after compression, is no more (e.g. 10MiB; 0: no limit)")
	s.encryption.register(fs, "encrypt names, metadata and content end to end with this key; the broker sees neither")
	fs.StringVar(&s.compress, "compress", "s2", "content compression: s2 (fast, the default), zstd (smaller, for links slower than the CPU) or off")
}

func (s *sourceFlags) config(reg prometheus.Registerer) (source.Config, error) {
	root, err := s.check()
	if err != nil {
		return source.Config{}, err
	}
	scan := orNever(s.scanInterval)
	comp, err := wire.ParseCompression(s.compress)
	if err != nil {
		return source.Config{}, fmt.Errorf("--compress: %w", err)
	}
	cache, err := parseByteSize(s.contentCache)
	if err != nil {
		return source.Config{}, fmt.Errorf("--content-cache: %w", err)
	}
	rate, err := parseByteSize(s.maxRate)
	if err != nil {
		return source.Config{}, fmt.Errorf("--max-rate: %w", err)
	}
	if cache > 0 && cache < bus.MinCacheBytes {
		return source.Config{}, fmt.Errorf("--content-cache: %s is below the smallest cache, %d bytes (0 turns it off)", s.contentCache, bus.MinCacheBytes)
	}
	enc, err := s.encryption.key()
	if err != nil {
		return source.Config{}, err
	}
	return source.Config{Compression: comp, Folder: s.folder, Root: root, DataDir: s.data, ScanInterval: scan,
		MaxWatches: s.maxWatches, Workers: s.workers, Registry: reg, AllowEmptyRoot: s.allowEmptyRoot,
		TombstoneTTL: s.tombstoneTTL, ContentCache: orOff(cache), MaxStaleness: s.maxStaleness,
		StreamOptions: bus.StreamOptions{Replicas: s.replicas}, Exclude: s.exclude.patterns, MaxRate: rate, Encryption: enc}, nil
}

// orOff maps the command line's "0 turns it off" to the library's negative.
func orOff(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// orNever maps the command line's "0 disables" to the library's negative.
func orNever(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// sourceCmd is every flag of `jetsync source`. A config file sets the
// same flags (see config_source.go).
type sourceCmd struct {
	fs     *flag.FlagSet
	config string
	lf     logFlags
	sf     sourceFlags
	cf     connFlags
	bf     brokerFlags
	mf     memoryFlags
	hf     httpFlags
}

func newSourceCmd() *sourceCmd {
	c := &sourceCmd{fs: flag.NewFlagSet("source", flag.ContinueOnError)}
	c.hf.register(c.fs, "127.0.0.1:9464")
	c.lf.register(c.fs)
	c.sf.register(c.fs)
	c.cf.registerNoTLS(c.fs)
	c.cf.tls.register(c.fs, "both")
	c.bf.register(c.fs, "", &c.cf.tls)
	c.mf.register(c.fs)
	registerConfig(c.fs, &c.config)
	return c
}

func cmdSource(ctx context.Context, args []string) error {
	c := newSourceCmd()
	if _, err := parse(c.fs, args); err != nil {
		return err
	}
	if c.config != "" {
		return runSourceConfig(ctx, args)
	}
	sf, cf, bf, hf := &c.sf, &c.cf, &c.bf, c.hf
	log, err := c.lf.logger()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	cfg, err := sf.config(reg)
	if err != nil {
		return err
	}
	cfg.Logger = log
	gov, err := c.mf.governor(log)
	if err != nil {
		return err
	}
	if (cf.url == "") == (bf.listen == "") {
		return usagef("give exactly one of --nats URL (external broker) or --listen ADDR (embedded broker)")
	}
	name, id := "jetsync source "+cfg.Folder, access.SourceOf(cfg.Folder)
	opts := bus.ConnectOptions{Name: name, Logger: log}
	if bf.listen != "" {
		bf.folder = cfg.Folder
		b, err := bf.start(sf.data, log)
		if err != nil {
			return err
		}
		defer b.Shutdown()
		log.Info("embedded broker ready", "url", b.ClientURL())
		if opts.Extra, err = b.ConnectAs(id); err != nil {
			return err
		}
		hf.nats = b.Server()
	} else {
		if err := checkIdentity(cf, id); err != nil {
			return err
		}
		if opts, err = cf.options(name, id, log); err != nil {
			return err
		}
		opts.KeepTrying = true
	}
	return runSource(ctx, cfg, opts, hf, reg, gov)
}

func runSource(ctx context.Context, cfg source.Config, opts bus.ConnectOptions, hf httpFlags, reg *prometheus.Registry,
	gov *memoryGovernor) error {
	nc, js, src, err := openSource(cfg, opts, reg)
	if err != nil {
		return err
	}
	defer nc.Close()
	return runServing(ctx, serving{httpFlags: hf, reg: reg, log: cfg.Logger, js: js, folder: cfg.Folder}, gov.run, src.Run)
}

// openSource connects with opts and makes cfg's source, registering on
// reg the broker's view of the folder's replicas: the primary's metrics
// cover every replica, dead ones included. The caller closes nc.
func openSource(cfg source.Config, opts bus.ConnectOptions, reg prometheus.Registerer) (*nats.Conn, jetstream.JetStream, *source.Source, error) {
	nc, js, err := bus.Connect(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	src, err := source.New(cfg, nc, js)
	if err == nil {
		err = reg.Register(status.NewCollector(js, cfg.Folder))
		if err != nil {
			err = fmt.Errorf("register metrics: %w", err)
		}
	}
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	return nc, js, src, nil
}
