package web

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/status"
)

//go:embed static
var static embed.FS

// Page serves the status page of folder ("" for every folder) on the
// broker js reaches.
type Page struct {
	js     jetstream.JetStream
	folder string
	log    *slog.Logger

	mu      sync.Mutex
	history map[string][]Sample // by "folder/replica", oldest first
}

// Sample is a replica's lag and pending changes at one moment.
type Sample struct {
	Time       int64   `json:"t"` // unix ms
	LagSeconds float64 `json:"lag"`
	Pending    uint64  `json:"pending"`
	State      string  `json:"state"`
}

// Keep is how much lag history the page shows, and Every how often it is
// sampled.
const (
	Keep  = time.Hour
	Every = 10 * time.Second
	// minGap: a page asking more often adds a sample at most this often.
	minGap = 2 * time.Second
)

// New returns the page of folder ("" for all).
func New(js jetstream.JetStream, folder string, log *slog.Logger) *Page {
	return &Page{js: js, folder: folder, log: log, history: make(map[string][]Sample)}
}

// Run samples the replicas' lag every Every until ctx ends.
func (p *Page) Run(ctx context.Context) error {
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		if _, err := p.collect(ctx); err != nil {
			p.log.Debug("sample status for the page", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// collect reads the status and adds a sample per replica.
func (p *Page) collect(ctx context.Context) ([]status.FolderStatus, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	folders, err := status.Collect(cctx, p.js, p.folder)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range folders {
		for _, r := range f.Replicas {
			k := f.Folder + "/" + r.ID
			h := p.history[k]
			if len(h) > 0 && now.Sub(time.UnixMilli(h[len(h)-1].Time)) < minGap {
				continue
			}
			h = append(h, Sample{Time: now.UnixMilli(), LagSeconds: r.LagSeconds, Pending: r.Pending, State: r.State})
			for len(h) > 0 && now.Sub(time.UnixMilli(h[0].Time)) > Keep {
				h = h[1:]
			}
			p.history[k] = h
		}
	}
	return folders, nil
}

// Register adds the page (/) and its data (/api/status) to mux.
func (p *Page) Register(mux *http.ServeMux) {
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /", http.FileServerFS(sub))
	mux.HandleFunc("GET /api/status", p.serveStatus)
}

// apiStatus is what /api/status returns.
type apiStatus struct {
	Time    int64                 `json:"time"` // unix ms
	Folders []status.FolderStatus `json:"folders"`
	History map[string][]Sample   `json:"history"`
	Error   string                `json:"error,omitempty"`
}

func (p *Page) serveStatus(w http.ResponseWriter, r *http.Request) {
	out := apiStatus{Time: time.Now().UnixMilli(), Folders: []status.FolderStatus{}}
	folders, err := p.collect(r.Context())
	if err != nil {
		out.Error = err.Error()
	} else {
		out.Folders = folders
	}
	p.mu.Lock()
	out.History = make(map[string][]Sample, len(p.history))
	for k, h := range p.history {
		out.History[k] = append([]Sample(nil), h...)
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		p.log.Debug("write /api/status", "err", err)
	}
}
