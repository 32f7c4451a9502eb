package source

import (
	"sync"
	"sync/atomic"
	"time"
)

// Source states reported in Progress.State.
const (
	StateStarting   = "starting"
	StateScanning   = "scanning"
	StateLive       = "live"
	StateRecovering = "recovering"
	// StateCannotPublish: publishing has kept failing for a while (see
	// Progress.LastError); the source keeps trying.
	StateCannotPublish = "cannot-publish"
)

// Progress is a snapshot of what the source is doing.
type Progress struct {
	State           string // StateStarting, StateScanning, StateLive, StateRecovering or StateCannotPublish
	InitialScanDone bool
	// ScannedFiles and ScannedBytes count the files examined since the
	// current (or last) full scan started.
	ScannedFiles, ScannedBytes int64
	// PublishedFiles counts acknowledged records of any type (files,
	// directories, symlinks, tombstones) since start; PublishedBytes counts
	// the chunk payload bytes sent, after compression.
	PublishedFiles, PublishedBytes int64
	PendingFiles                   int64     // records decided but not yet acknowledged
	LastSeq                        uint64    // highest acknowledged stream sequence
	LastChange                     time.Time // when the last record was acknowledged
	Errors                         int64
	LastError                      string
	Watched                        int  // directories watched
	WatchCapped                    bool // some directories are left to the periodic scan
	Epoch                          uint64
}

// progress holds the counters behind Progress; every field is safe to
// update from any goroutine.
type progress struct {
	state                      atomic.Value // string
	initialDone                atomic.Bool
	scannedFiles, scannedBytes atomic.Int64
	publishedRecs, publishedB  atomic.Int64
	errors                     atomic.Int64
	lastChange                 atomic.Int64 // unix ns

	health publishHealth

	mu      sync.Mutex
	lastErr string
}

func (p *progress) setState(s string) { p.state.Store(s) }

// getState is the state the source is in, unless publishing has kept
// failing for a while: that overrides it.
func (p *progress) getState() string {
	if p.health.stuck(time.Now()) {
		return StateCannotPublish
	}
	if s, ok := p.state.Load().(string); ok {
		return s
	}
	return StateStarting
}

// published notes that a publish succeeded.
func (p *progress) published() { p.health.ok() }

func (p *progress) recordError(msg string) {
	p.errors.Add(1)
	p.mu.Lock()
	p.lastErr = msg
	p.mu.Unlock()
}

func (p *progress) lastError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Progress returns a snapshot; it is cheap and safe from any goroutine.
func (s *Source) Progress() Progress {
	p := &s.prog
	pr := Progress{
		State:           p.getState(),
		InitialScanDone: p.initialDone.Load(),
		ScannedFiles:    p.scannedFiles.Load(),
		ScannedBytes:    p.scannedBytes.Load(),
		PublishedFiles:  p.publishedRecs.Load(),
		PublishedBytes:  p.publishedB.Load(),
		PendingFiles:    s.track.count(),
		LastSeq:         s.pub.highest.Load(),
		Errors:          p.errors.Load(),
		LastError:       p.lastError(),
		Epoch:           s.bv.epoch.Load(),
	}
	if ns := p.lastChange.Load(); ns != 0 {
		pr.LastChange = time.Unix(0, ns)
	}
	ws := s.watcher.Stats()
	pr.Watched, pr.WatchCapped = ws.Watched, ws.Capped
	return pr
}
