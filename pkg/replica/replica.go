package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/ratelimit"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Config configures a replica.
type Config struct {
	Folder   string
	Root     string // the local copy of the folder
	DataDir  string // the index lives in DataDir/replica-<folder>.db
	ID       string // replica name in status reports; default host name
	Workers  int    // parallel appliers, default 8
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil: metrics are not registered
	// CheckInterval is how often the replica asks the broker whether its
	// position is still valid when nothing arrives; default 10 s.
	CheckInterval time.Duration
	// VerifyEvery runs a full verify of the tree (the scrub, see
	// scrub.go) at this interval; 0: never. VerifyMaxRate bounds how fast
	// it reads (bytes per second; 0: unbounded). Repair makes the replica
	// fetch again what a scrub finds different.
	VerifyEvery   time.Duration
	VerifyMaxRate int64
	Repair        bool
	// KeepOwners leaves owners as this replica creates files (--owners=off);
	// otherwise they are the source's, where the process may set them.
	KeepOwners bool
	// SourceKey, if set, is the source's key: only state records and
	// folder metas it signed are applied (--source-key). Without it,
	// signatures are not checked.
	SourceKey *sign.Verifier
	// MaxRate bounds the content this replica pulls from the content
	// cache and the source, in bytes per second as they travel (after
	// compression); 0: no limit.
	MaxRate int64
	// Encryption, if set, is the key the folder is encrypted with
	// (--encryption-key-file). A replica whose key does not match the
	// folder's (or has none for an encrypted folder, or one for a plain
	// one) applies nothing: it reports why and waits.
	Encryption *seal.Key
}

// Replica applies a folder's published state to a local tree.
type Replica struct {
	cfg     Config
	keys    *seal.FolderKeys // nil: the folder is not encrypted
	log     *slog.Logger
	js      jetstream.JetStream
	store   *store
	root    *fsroot.Root
	metrics *metrics
	prog    progress
	attrs   *apply.Attrs       // shared by every session, so it warns once
	limit   *ratelimit.Limiter // Config.MaxRate, shared by every session's fetcher

	// repair asks the running session to reconcile after a scrub forgot
	// the paths it found different (the number of paths).
	repair chan int

	// metaMu guards the last folder meta that could be read, and the
	// sequence of the last one rejected (counted once).
	metaMu     sync.Mutex
	goodMeta   wire.Meta
	badMetaSeq uint64
}

// New opens the local index and the folder root.
func New(cfg Config, js jetstream.JetStream) (*Replica, error) {
	if err := wire.ValidFolder(cfg.Folder); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create replica root: %w", err)
	}
	root, err := fsroot.Open(cfg.Root)
	if err != nil {
		return nil, err
	}
	st, err := openStore(filepath.Join(cfg.DataDir, "replica-"+cfg.Folder+".db"))
	if err != nil {
		root.Close()
		return nil, err
	}
	st.pathKey = cfg.Encryption.For(cfg.Folder).PathToken
	r := &Replica{cfg: cfg, keys: cfg.Encryption.For(cfg.Folder), js: js, store: st, root: root, repair: make(chan int, 1),
		log: cfg.Logger.With("component", "replica", "folder", cfg.Folder)}
	r.metrics = newMetrics(cfg.Registry, cfg.Folder)
	r.attrs = newAttrs(r)
	r.limit = ratelimit.New(cfg.MaxRate, func(d time.Duration) { r.metrics.rateLimited.Add(d.Seconds()) })
	if last, err := st.lastScrub(); err != nil {
		r.log.Warn("read the last verify", "err", err)
	} else {
		r.noteScrub(last)
	}
	return r, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 10 * time.Second
	}
	if cfg.ID == "" {
		cfg.ID, _ = os.Hostname()
	}
	return cfg
}

// Run follows the stream until ctx ends. Broker outages and apply errors
// are retried with backoff; Run returns nil on cancellation.
func (r *Replica) Run(ctx context.Context) error {
	defer r.close()
	return r.run(ctx)
}

// run is Run without releasing the index and the root at the end.
func (r *Replica) run(ctx context.Context) error {
	if n, err := r.root.CleanTemps(); err != nil {
		r.log.Warn("clean leftover temp files", "err", err)
	} else if n > 0 {
		r.log.Info("removed leftover temp files from an interrupted apply", "count", n)
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.reportLoop(ctx) })
	if r.cfg.VerifyEvery > 0 {
		wg.Go(func() { r.scrubLoop(ctx) })
	}
	defer wg.Wait()
	var carried verdict
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := r.session(ctx, carried)
		if ctx.Err() != nil {
			return nil
		}
		carried, _ = verdictOf(err)
		if !carried.ok() || errors.Is(err, errReconnected) || errors.Is(err, errDeliveryGap) {
			switch {
			case errors.Is(err, errReconnected):
				r.log.Info("reconnected to the broker; following the stream again from the applied position")
			case errors.Is(err, errDeliveryGap):
				r.log.Info("following the stream again from the applied position", "why", err)
			}
			attempt = -1
			continue
		}
		r.prog.noteError(err)
		r.log.Warn("replication interrupted, retrying", "err", err)
		sleep(ctx, backoff(attempt))
	}
	return nil
}

func (r *Replica) close() {
	if err := r.store.close(); err != nil {
		r.log.Warn("close index", "err", err)
	}
	r.root.Close()
}

// backoff paces the replica's retries: up to 30 seconds apart.
func backoff(attempt int) time.Duration { return bus.Backoff(attempt, 30*time.Second) }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
