package source

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Defaults for zero Config fields.
const (
	DefaultScanInterval = 10 * time.Minute
	DefaultDebounce     = 20 * time.Millisecond
	DefaultWorkers      = 4
	// DefaultContentCache bounds the broker's content cache of a folder.
	DefaultContentCache = 1 << 30
	// DefaultMaxStaleness bounds how far the published version of a file
	// that keeps changing may lag behind it.
	DefaultMaxStaleness = 5 * time.Second
)

// Config describes one source folder.
type Config struct {
	Folder string
	// Root is the absolute path of the tree. Run resolves it with
	// watch.ResolveRoot, so it may lead to the tree through a symlink.
	Root    string
	DataDir string // the index lives in DataDir/source-<Folder>.db
	// ScanInterval is the period of the safety-net full scan; 0 means
	// DefaultScanInterval, a negative value disables it.
	ScanInterval time.Duration
	Debounce     time.Duration // passed to the watcher; 0 means DefaultDebounce
	MaxWatches   int           // passed to the watcher; 0 means its default
	Workers      int           // parallel file readers; 0 means DefaultWorkers
	// StreamOptions configure the folder stream (and the replica count of
	// the status bucket).
	StreamOptions bus.StreamOptions
	Logger        *slog.Logger
	// Registry receives the source's metrics; nil registers nothing.
	Registry prometheus.Registerer
	// AllowEmptyRoot lets a scan that finds the root empty delete what was
	// published. By default an empty root with published content is taken
	// for an unmounted volume and left alone.
	AllowEmptyRoot bool
	// TombstoneTTL makes the broker drop a tombstone this long after it
	// was published (0 keeps tombstones forever). Replicas learn it from
	// the folder meta and reconcile when they were away longer.
	TombstoneTTL time.Duration
	// ContentCache bounds, in bytes, the broker's cache of the content of
	// live changes (see docs/PROTOCOL.md); 0 means DefaultContentCache, a
	// negative value turns the cache off (and removes it from the broker).
	ContentCache int64
	// Compression is how content is compressed before it is published
	// (the zero value: not at all). It spends CPU on both sides to store
	// and move fewer bytes, which pays only when the broker or a replica
	// is across a network; `jetsync run` keeps everything on one machine.
	Compression wire.Compression
	// MaxStaleness bounds how old the published version of a file that
	// keeps changing may be: past half of it, a version a second read
	// confirms is published when no settled read could be had (see
	// docs/GUARANTEES.md). 0 means DefaultMaxStaleness.
	MaxStaleness time.Duration
	// Exclude lists exclusion patterns, in order (see package exclude):
	// matching paths are not walked, watched, read nor published, and a
	// published path that comes to match them is tombstoned as excluded.
	// The folder meta carries them to replicas.
	Exclude []string
	// MaxRate bounds, in bytes per second, the content the content
	// service reads from disk to answer replicas, shared by every request
	// (what it sends, after compression, is no more); 0: no limit.
	MaxRate int64
	// Encryption, if set, encrypts names, metadata and content end to end
	// with keys derived from it for the folder (see package seal). A
	// folder is published encrypted with one key or not at all: the
	// source refuses to start on a folder published otherwise.
	Encryption *seal.Key
}

func (c Config) withDefaults() (Config, error) {
	if err := wire.ValidFolder(c.Folder); err != nil {
		return c, err
	}
	if !filepath.IsAbs(c.Root) {
		return c, fmt.Errorf("check root %q: not an absolute path", c.Root)
	}
	if c.DataDir == "" {
		return c, errors.New("check config: data dir is required")
	}
	if c.TombstoneTTL != 0 && c.TombstoneTTL < time.Second {
		return c, fmt.Errorf("check config: tombstone TTL %s is below the broker's 1s minimum", c.TombstoneTTL)
	}
	c.Root = filepath.Clean(c.Root)
	if c.ContentCache == 0 {
		c.ContentCache = DefaultContentCache
	}
	if c.ScanInterval == 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.Debounce <= 0 {
		c.Debounce = DefaultDebounce
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// IndexPath is where the index of folder lives inside dataDir.
func IndexPath(dataDir, folder string) string {
	return filepath.Join(dataDir, "source-"+folder+".db")
}
