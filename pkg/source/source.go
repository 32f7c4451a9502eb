package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/watch"
	"github.com/jetsync/jetsync/pkg/wire"
)

// drainTimeout bounds how long a stopping source waits for outstanding
// acks before it commits the index and returns.
var drainTimeout = 5 * time.Second

// Source publishes one folder. Create it with New and run it with Run.
type Source struct {
	cfg      Config
	nc       *nats.Conn
	js       jetstream.JetStream
	log      *slog.Logger
	metrics  *metrics
	watcher  *watch.Watcher
	indexRel string // the index file's path inside the tree, if it is there (set by Run)
	excl     *exclude.Matcher
	started  atomic.Bool
	prog     progress
	track    tracker
	links    linkGroups       // control loop only
	sockets  map[string]bool  // sockets already reported (control loop only)
	signer   *sign.Signer     // signs every state record and folder meta
	ownKey   *sign.Verifier   // checks that what the broker holds is signed by signer
	keys     *seal.FolderKeys // nil: the folder is not encrypted
	clock    recordClock      // publish times of records
	// rootEmpty: the last listing of the root found it empty while the
	// index has content (an unmounted volume?): its own state is not
	// published either.
	rootEmpty atomic.Bool
	retry     retrySet
	pub       *publisher
	cache     recentChunks // chunks recently sent to the content cache
	fresh     freshEntries // file entries published and not yet in the index
	pins      pinnedVersions
	busy      busyFiles // files found changing
	clones    clones
	bv        brokerView
	// tree is the index while Run has it open, for the tree metrics.
	tree      atomic.Pointer[index.Index]
	audit     audit
	abort     chan struct{}
	abortOnce sync.Once

	cappedLogged atomic.Bool

	// File system calls that tests replace to inject faults.
	readDirFn func(string) ([]os.DirEntry, error)
	openFn    func(string, int, os.FileMode) (*os.File, error)
	// checkEvery is the broker check's period (brokerCheckInterval),
	// which tests shorten.
	checkEvery time.Duration

	// Set up by Run.
	ix          *index.Index
	com         *committer
	jobs        chan string
	recoverCh   chan struct{}
	statusCh    chan struct{}
	watchFailed chan struct{}
}

// New checks cfg and prepares a source publishing through js (nc is used
// to notice reconnects). Nothing happens until Run.
func New(cfg Config, nc *nats.Conn, js jetstream.JetStream) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{
		cfg:         cfg,
		nc:          nc,
		js:          js,
		log:         cfg.Logger.With("component", "source", "folder", cfg.Folder),
		abort:       make(chan struct{}),
		recoverCh:   make(chan struct{}, 1),
		statusCh:    make(chan struct{}, 1),
		watchFailed: make(chan struct{}),
		jobs:        make(chan string, cfg.Workers),
		readDirFn:   os.ReadDir,
		openFn:      os.OpenFile,
		checkEvery:  brokerCheckInterval,
	}
	s.audit.sample = auditSample
	s.keys = cfg.Encryption.For(cfg.Folder)
	if s.excl, err = exclude.Compile(cfg.Exclude); err != nil {
		return nil, err
	}
	signer, created, err := loadSigner(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.signer = signer
	if s.ownKey, err = sign.ParseTrust(signer.PublicKey()); err != nil {
		return nil, err
	}
	msg := "signing records with the source's key; replicas verify them with --source-key"
	if created {
		msg = "made a signing key for this source; replicas verify its records with --source-key"
	}
	s.log.Info(msg, "fingerprint", signer.Fingerprint(), "public_key_file", filepath.Join(cfg.DataDir, PublicKeyFile))
	s.pub = newPublisher(js, s.abort, func(uint64) { s.requestRecovery() })
	s.prog.setState(StateStarting)
	s.watcher, err = watch.New(watch.Options{Root: cfg.Root, Debounce: cfg.Debounce, MaxWatches: cfg.MaxWatches,
		Ignore: s.ignoredEvent, IgnoreDir: s.excludedDir, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.metrics, err = newMetrics(cfg.Folder, cfg.Registry, func() float64 { return float64(s.watcher.Stats().Watched) },
		func() float64 { return float64(s.busy.count()) })
	if err != nil {
		return nil, err
	}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(newTreeCollector(s, cfg.Folder)); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return s, nil
}

// Run publishes the folder until ctx is cancelled, then waits (bounded)
// for outstanding acks, commits the index, closes it and returns nil. It
// returns an error if the index cannot be opened, the root is not a
// directory, or the source cannot go on. Run may be called once.
func (s *Source) Run(ctx context.Context) (err error) {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("run source: already started")
	}
	root, err := watch.ResolveRoot(s.cfg.Root)
	if err != nil {
		return err
	}
	s.cfg.Root = root // what relative paths and the index's place are taken against
	if s.ix, err = index.Open(IndexPath(s.cfg.DataDir, s.cfg.Folder)); err != nil {
		return err
	}
	s.tree.Store(s.ix)
	defer s.tree.Store(nil)
	defer s.closeIndex(&err)
	if s.indexRel, err = findIndex(s.cfg.Root, s.cfg.DataDir, s.cfg.Folder); err != nil {
		return err
	}
	stopPipeline := s.startPipeline(ctx)
	defer stopPipeline()

	if _, err := s.recover(ctx); err != nil {
		return quiet(ctx, err)
	}
	defer s.pins.closeAll()
	err = s.runServices(ctx)
	s.drain(ctx)
	return err
}

// startPipeline starts the ack reaper and the index committer, which must
// outlive ctx long enough to drain; the returned func stops them.
func (s *Source) startPipeline(ctx context.Context) func() {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.com = newCommitter(s.ix, s.log, s.countError)
	s.com.committed = func(e *index.Entry) {
		s.fresh.done(e)
		if e.Type == wire.Deleted {
			s.audit.tombSettled.Add(1)
		}
	}
	s.com.stop = pctx.Done()
	var wg sync.WaitGroup
	wg.Go(func() { s.pub.reap(pctx) })
	wg.Go(func() { s.com.run(pctx) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// runServices runs the watcher, the control loop, the workers, the status
// reporter and the broker monitor until ctx ends or one of them fails.
func (s *Source) runServices(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	context.AfterFunc(gctx, func() {
		time.AfterFunc(drainTimeout, func() { s.abortOnce.Do(func() { close(s.abort) }) })
	})
	batches := make(chan watch.Batch)
	g.Go(func() error { return s.runWatcher(gctx, batches) })
	g.Go(func() error { return s.control(gctx, batches) })
	for range s.cfg.Workers {
		g.Go(func() error { return s.worker(gctx) })
	}
	g.Go(func() error { return s.reportStatus(gctx) })
	g.Go(func() error { return s.monitor(gctx) })
	g.Go(func() error { return s.serveContent(gctx) })
	return g.Wait()
}

// runWatcher runs the watcher; its failure is not fatal while the
// periodic scan covers the tree (the control loop decides).
func (s *Source) runWatcher(ctx context.Context, out chan<- watch.Batch) error {
	err := s.watcher.Run(ctx, out)
	if err != nil && ctx.Err() == nil {
		s.log.Error("watcher failed", "err", err)
		s.countError("watch", err.Error())
		close(s.watchFailed)
	}
	return nil
}

// drain waits, at most drainTimeout, for the acks of what was published,
// then makes sure the index has them.
func (s *Source) drain(ctx context.Context) {
	if err := s.track.wait(context.WithoutCancel(ctx), s.abort); err != nil {
		s.log.Warn("stopping with unacknowledged publishes; they will be published again", "pending", s.track.count())
	}
	s.com.flush()
}

func (s *Source) closeIndex(err *error) {
	if cerr := s.ix.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// findIndex returns the index file's path inside the resolved root, or ""
// if it is elsewhere. The data dir, which exists once the index is open,
// is resolved too, so that the index is found inside the tree even when
// the data dir is given through a symlink, the root's own included.
func findIndex(root, dataDir, folder string) (string, error) {
	dir, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return "", fmt.Errorf("resolve data dir: %w", err)
	}
	return relInside(root, IndexPath(dir, folder)), nil
}

// abs maps a relative slash path to the file system.
func (s *Source) abs(rel string) string {
	if rel == "" {
		return s.cfg.Root
	}
	return filepath.Join(s.cfg.Root, filepath.FromSlash(rel))
}

// ignored says which paths are never published: replica temp files and
// the source's own index, should it live inside the tree.
func (s *Source) ignored(rel string) bool {
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	return strings.HasPrefix(base, wire.TempPrefix) || (s.indexRel != "" && rel == s.indexRel)
}

// relInside returns p relative to root as a slash path, or "" if p is not
// inside root.
func relInside(root, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return ""
	}
	return filepath.ToSlash(rel)
}
