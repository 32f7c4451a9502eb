package source

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
)

// statusInterval is the period of status reports to the status bucket.
var statusInterval = 2 * time.Second

// reportStatus writes the source's status every statusInterval and when
// kicked (after the initial scan). Failures are logged at debug level and
// retried next time: status is informative, never worth stopping for.
func (s *Source) reportStatus(ctx context.Context) error {
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	var kv jetstream.KeyValue
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.statusCh:
		}
		if ws := s.watcher.Stats(); ws.Capped {
			s.logCapped(ws.Watched)
		}
		kv = s.putStatus(ctx, kv)
	}
}

func (s *Source) kickStatus() {
	select {
	case s.statusCh <- struct{}{}:
	default:
	}
}

// putStatus writes one report, (re)opening the bucket when needed, and
// returns the bucket to use next time (nil after a failure, since the
// broker may have lost it).
func (s *Source) putStatus(ctx context.Context, kv jetstream.KeyValue) jetstream.KeyValue {
	ctx, cancel := context.WithTimeout(ctx, statusInterval)
	defer cancel()
	if kv == nil {
		var err error
		if kv, err = bus.StatusKV(ctx, s.js, s.cfg.StreamOptions.Replicas); err != nil {
			s.log.Debug("cannot open status bucket", "err", err)
			return nil
		}
	}
	st := s.status()
	bus.SealSource(s.keys, bus.SourceKey(s.cfg.Folder), &st)
	if err := bus.PutStatus(ctx, kv, bus.SourceKey(s.cfg.Folder), st); err != nil {
		s.log.Debug("cannot write status", "err", err)
		return nil
	}
	return kv
}

// status is the report for `jetsync status`.
func (s *Source) status() bus.SourceStatus {
	p := s.Progress()
	st := bus.SourceStatus{
		V: 1, ID: s.ix.ID(), Folder: s.cfg.Folder, State: p.State,
		LastSeq: p.LastSeq, Epoch: p.Epoch, Watched: p.Watched, WatchCapped: p.WatchCapped,
		Errors: p.Errors, LastError: p.LastError, PendingFiles: p.PendingFiles,
		Updated: time.Now().UnixNano(),
	}
	if !p.LastChange.IsZero() {
		st.LastChange = p.LastChange.UnixNano()
	}
	if stats, err := s.ix.Stats(); err == nil {
		st.Files, st.Dirs, st.Bytes = stats.Files+stats.Symlinks, stats.Dirs, stats.Bytes
	}
	return st
}
