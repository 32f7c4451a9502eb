package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// publishRecord sends the state record of e. The ack settles one tracked
// job: on success the entry goes to the index with its sequence. On error
// nothing was sent and the caller settles the job.
func (s *Source) publishRecord(ctx context.Context, rec *wire.Record, e *index.Entry) error {
	rec.Epoch = s.bv.epoch.Load()
	rec.Time = s.clock.next()
	subject, data, err := s.keys.EncodeRecord(s.cfg.Folder, rec)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subject, Data: data}
	if rec.Type == wire.Deleted && s.cfg.TombstoneTTL > 0 {
		msg.Header = nats.Header{jetstream.MsgTTLHeader: []string{strconv.Itoa(int(s.cfg.TombstoneTTL.Seconds()))}}
	}
	s.signer.Sign(msg)
	tomb := rec.Type == wire.Deleted
	if tomb {
		s.audit.tombSent.Add(1) // before it can reach the stream
	}
	err = s.pub.publish(ctx, msg, func(a ack) {
		if a.err == nil && rec.Data != nil {
			s.countPublished(len(data)) // the record carries the content
		}
		s.recordAcked(e, a, rec.Excluded)
	})
	if err != nil && tomb {
		s.audit.tombSettled.Add(1) // nothing was sent
	}
	return err
}

// recordAcked settles the publish of e; forget drops e's path from the
// index once acknowledged (an excluded tombstone) instead of storing e.
func (s *Source) recordAcked(e *index.Entry, a ack, forget bool) {
	defer s.track.done() // after the entry is queued, so a flush covers it
	if a.err != nil {
		// The record was sent: a lost connection or a lost ack does not
		// mean the broker did not store it. Whatever the path becomes, the
		// index must not vouch for an older state.
		s.com.put(commitItem{unpublished: e})
		s.recordFailed(e.Path, a.err)
		return
	}
	e.Seq = a.seq
	s.prog.published()
	s.prog.publishedRecs.Add(1)
	s.prog.lastChange.Store(time.Now().UnixNano())
	s.metrics.records.Inc()
	s.metrics.lastSeq.Set(float64(s.pub.highest.Load()))
	s.com.put(commitItem{entry: e, forget: forget})
}

func (s *Source) recordFailed(path string, err error) {
	switch {
	case errors.Is(err, errStopped) || errors.Is(err, context.Canceled):
	case errors.Is(err, wire.ErrBadPath) || errors.Is(err, wire.ErrMalformed):
		s.log.Error("cannot represent path in a record; skipping it", "path", path, "err", err)
		s.countError("path", fmt.Sprintf("%s: %v", path, err))
	default:
		level := slog.LevelWarn
		if !s.nc.IsConnected() {
			level = slog.LevelDebug // the connection's own log says why
		}
		s.log.Log(context.Background(), level, "cannot publish; will retry", "path", path, "err", err)
		s.publishFailed(fmt.Sprintf("%s: %v", path, err))
		s.retry.add(path)
	}
}

// publishNow publishes a record from the control loop (directories,
// symlinks, tombstones: cheap, and published in decision order).
func (s *Source) publishNow(ctx context.Context, rec *wire.Record, e *index.Entry) error {
	s.track.add()
	if err := s.publishRecord(ctx, rec, e); err != nil {
		s.track.done()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.recordFailed(rec.Path, err)
	}
	return nil
}

// dispatch hands a file to the workers.
func (s *Source) dispatch(ctx context.Context, path string) error {
	s.track.add()
	select {
	case s.jobs <- path:
		return nil
	case <-ctx.Done():
		s.track.done()
		return ctx.Err()
	}
}

func (s *Source) publishDir(ctx context.Context, path string, st index.Stat, fi fs.FileInfo) error {
	attrs, ok := s.pathAttrs(path, fi)
	if !ok {
		return nil
	}
	rec := &wire.Record{Path: path, Type: wire.Dir, Mode: st.Mode, MTime: st.MTime, Attrs: attrs}
	return s.publishNow(ctx, rec, &index.Entry{Path: path, Stat: st})
}

func (s *Source) publishSymlink(ctx context.Context, path string, st index.Stat, fi fs.FileInfo) error {
	target, err := os.Readlink(s.abs(path))
	if err != nil {
		s.retry.add(path) // replaced since the lstat
		return nil
	}
	attrs, ok := s.pathAttrs(path, fi)
	if !ok {
		return nil
	}
	rec := &wire.Record{Path: path, Type: wire.Symlink, MTime: st.MTime, Target: target, Attrs: attrs}
	return s.publishNow(ctx, rec, &index.Entry{Path: path, Stat: st, Target: target})
}

// publishSpecial publishes a FIFO or a device node, with its device
// number.
func (s *Source) publishSpecial(ctx context.Context, path string, st index.Stat, fi fs.FileInfo) error {
	attrs, ok := s.pathAttrs(path, fi)
	if !ok {
		return nil
	}
	if st.Type != wire.Fifo {
		attrs.Rdev = rdevOf(fi)
	}
	rec := &wire.Record{Path: path, Type: st.Type, Mode: st.Mode, MTime: st.MTime, Attrs: attrs}
	return s.publishNow(ctx, rec, &index.Entry{Path: path, Stat: st})
}

// skippedSocket says, once per path, that a socket is not replicated (a
// socket is a live endpoint of a running program, nothing a copy can
// hold), and counts it.
func (s *Source) skippedSocket(path string, fi fs.FileInfo) {
	s.metrics.sockets.Inc()
	if s.sockets == nil {
		s.sockets = map[string]bool{}
	}
	if s.sockets[path] {
		return
	}
	s.sockets[path] = true
	s.log.Warn("not replicating a socket", "path", path, "mode", fi.Mode().String())
}

func (s *Source) publishTombstone(ctx context.Context, path string) error {
	return s.sendTombstone(ctx, path, false)
}

// sendTombstone publishes a tombstone for path, marked excluded if the
// path became excluded rather than deleted.
func (s *Source) sendTombstone(ctx context.Context, path string, excluded bool) error {
	s.pins.drop(path)
	s.busy.settled(path)
	rec := &wire.Record{Path: path, Type: wire.Deleted, Attrs: wire.Attrs{Excluded: excluded}}
	return s.publishNow(ctx, rec, &index.Entry{Path: path, Stat: index.Stat{Type: wire.Deleted}})
}

// pathAttrs reads the attributes of a directory or symlink; when they
// cannot be read it reports why and leaves the path to the retry set.
func (s *Source) pathAttrs(path string, fi fs.FileInfo) (wire.Attrs, bool) {
	attrs, err := s.attrsOf(path, fi)
	if err == nil {
		return attrs, true
	}
	if errors.Is(goneOr(err), errGone) {
		s.retry.add(path) // replaced since the lstat
		return attrs, false
	}
	s.log.Error("cannot read attributes; will retry", "path", path, "err", err)
	s.countError("read", fmt.Sprintf("%s: %v", path, err))
	s.retry.add(path)
	return attrs, false
}

// countError records an error in Progress and the metrics.
func (s *Source) countError(kind, msg string) {
	s.prog.recordError(msg)
	s.metrics.errors.WithLabelValues(kind).Inc()
}
