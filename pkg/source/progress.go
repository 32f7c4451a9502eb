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
)

// Progress is a snapshot of what the source is doing.
type Progress struct {
	State           string // StateStarting, StateScanning, StateLive or StateRecovering
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

	mu      sync.Mutex
	lastErr string
}

func (p *progress) setState(s string) { p.state.Store(s) }

func (p *progress) getState() string {
	if s, ok := p.state.Load().(string); ok {
		return s
	}
	return StateStarting
}

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
