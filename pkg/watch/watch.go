package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	defaultDebounce = 20 * time.Millisecond
	defaultMaxDelay = 200 * time.Millisecond
	defaultMaxBatch = 50000
)

// Options configures a Watcher. Zero values get the defaults noted.
type Options struct {
	// Root is the absolute path of the tree to watch. Run resolves it
	// with ResolveRoot, so it may lead to the tree through a symlink.
	Root string
	// Debounce is the quiet period before a batch is flushed; default 20ms.
	Debounce time.Duration
	// MaxDelay bounds how long after its first event a batch is flushed even
	// if events keep coming; default 200ms.
	MaxDelay time.Duration
	// MaxWatches caps the watched directories; on kqueue systems every entry
	// of a watched directory counts too, because fsnotify opens a descriptor
	// for each. Default 100000 on Linux, 20000 on FreeBSD; 0 means the
	// default, a negative value means unlimited.
	MaxWatches int
	// MaxBatch collapses a batch holding more paths than this into a full
	// rescan request; default 50000.
	MaxBatch int
	// Ignore, if set, drops paths (relative, slash-separated) such as temp
	// files; ignored directories are not watched.
	Ignore func(rel string) bool
	// IgnoreDir, if set, names directories that are not watched, nor
	// walked for subdirectories to watch (excluded trees). Their own
	// changes are still reported unless Ignore drops them.
	IgnoreDir func(rel string) bool
	// Logger receives warnings; default slog.Default().
	Logger *slog.Logger
}

// Batch is one coalesced set of changes. Paths are relative to Root,
// slash-separated, deduplicated, sorted; "" is never included.
type Batch struct {
	// Paths may have changed (created, written, removed, renamed, chmod'ed);
	// the consumer lstat()s each.
	Paths []string
	// Dirs appeared (created or moved in) and must be walked recursively by
	// the consumer, because events inside them may have happened before
	// their watch was added. A directory below another listed one is omitted.
	Dirs []string
	// Rescan means events were lost and the consumer must rescan the whole
	// tree. Paths and Dirs are then empty: the rescan covers them.
	Rescan bool
	// Root means the root directory's own mode, owner or attributes may
	// have changed (its mtime moves with the entries in Paths).
	Root bool
}

// Stats is a snapshot of the watcher's state.
type Stats struct {
	// Watched is the number of directories currently watched.
	Watched int
	// Capped is set once some directory could not be watched (MaxWatches or
	// a kernel limit); those parts are covered only by the consumer's
	// periodic scan. It stays set.
	Capped bool
	// Overflows counts the times the kernel reported lost events.
	Overflows uint64
}

// Watcher watches a directory tree recursively. Create it with New and drive
// it with Run.
type Watcher struct {
	root    string
	prefix  string // root plus a trailing separator, for cheap relative paths
	opts    Options
	log     *slog.Logger
	ready   chan struct{}
	started atomic.Bool

	watched   atomic.Int64
	capped    atomic.Bool
	overflows atomic.Uint64

	// Everything below is owned by the goroutine executing Run.
	fs        *fsnotify.Watcher
	nodes     map[string]*dirNode // rel path of each watched directory
	used      int                 // watch units in use, see dirNode.cost
	limit     int                 // effective cap on used; negative is unlimited
	pend      *pending
	outbox    Batch
	hasOutbox bool
	isReady   bool
	warned    map[string]bool // refusal kinds already logged
}

// New validates opts and returns a Watcher; nothing is watched until Run.
func New(opts Options) (*Watcher, error) {
	if !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("check root %q: not an absolute path", opts.Root)
	}
	opts.Root = filepath.Clean(opts.Root)
	if opts.Debounce <= 0 {
		opts.Debounce = defaultDebounce
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = defaultMaxDelay
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.MaxWatches == 0 {
		opts.MaxWatches = defaultMaxWatches
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Watcher{
		root:   opts.Root,
		prefix: rootPrefix(opts.Root),
		opts:   opts,
		log:    opts.Logger.With("component", "watch", "root", opts.Root),
		ready:  make(chan struct{}),
		nodes:  make(map[string]*dirNode),
		limit:  max(opts.MaxWatches, -1),
		warned: make(map[string]bool),
	}, nil
}

// Ready is closed once the initial watches are in place, so a consumer can
// start its initial scan after it and miss nothing. It is never closed if
// Run fails or is cancelled before that point.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Stats reports the number of watched directories and whether the cap was
// reached. It is safe to call from any goroutine.
func (w *Watcher) Stats() Stats {
	return Stats{
		Watched:   int(w.watched.Load()),
		Capped:    w.capped.Load(),
		Overflows: w.overflows.Load(),
	}
}

// Run adds watches for the whole tree, closes Ready, then delivers batches on
// out until ctx is cancelled. It returns nil on cancellation and an error if
// the root cannot be watched or the notification backend fails. It never
// closes out and never blocks on it once ctx is cancelled. Run may be called
// only once.
func (w *Watcher) Run(ctx context.Context, out chan<- Batch) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("run watcher: already started")
	}
	root, err := ResolveRoot(w.root)
	if err != nil {
		return err
	}
	w.root, w.prefix = root, rootPrefix(root) // only this goroutine reads them from here on
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("create fsnotify watcher: %w", err)
	}
	defer w.closeBackend(fsw)
	w.fs = fsw
	w.pend = newPending(w.opts)
	defer w.pend.stop()

	if err := w.watchTree(ctx, ""); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	w.isReady = true
	close(w.ready)
	return w.loop(ctx, out)
}

// rootPrefix is root plus a trailing separator.
func rootPrefix(root string) string {
	if root[len(root)-1] == filepath.Separator {
		return root
	}
	return root + string(filepath.Separator)
}

func (w *Watcher) closeBackend(fsw *fsnotify.Watcher) {
	if err := fsw.Close(); err != nil {
		w.log.Debug("close fsnotify watcher", "err", err)
	}
}

// loop is the single owner of the watch bookkeeping and the pending batch,
// which is what lets both go without locks.
func (w *Watcher) loop(ctx context.Context, out chan<- Batch) error {
	for {
		var send chan<- Batch
		if w.hasOutbox {
			send = out
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fs.Events:
			if !ok {
				return errors.New("read events: fsnotify watcher closed")
			}
			w.handleEvent(ctx, ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return errors.New("read errors: fsnotify watcher closed")
			}
			w.handleError(err)
		case <-w.pend.timer.C:
			w.pend.due = true
			w.promote()
		case send <- w.outbox:
			w.outbox, w.hasOutbox = Batch{}, false
			w.promote()
		}
	}
}

// promote moves a due batch to the outbox. While the consumer is still busy
// with the previous batch, new events keep accumulating in the pending one,
// so a slow consumer gets fewer, larger batches instead of stalling the
// kernel queue.
func (w *Watcher) promote() {
	if w.hasOutbox || !w.pend.due {
		return
	}
	b, ok := w.pend.take()
	if ok {
		w.outbox, w.hasOutbox = b, true
	}
}
