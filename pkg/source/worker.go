package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Torn-read handling: a file that changes while it is read, and has no
// consistent version to take (see changing.go), is read again up to
// readAttempts times, waiting readBackoff, 2×readBackoff, … between; then
// it is left to the changing files' round (busyEvery).
var (
	readAttempts = 5
	readBackoff  = 20 * time.Millisecond
)

var (
	errUnstable = errors.New("file kept changing while it was read")
	errGone     = errors.New("path vanished or changed type")
)

// worker reads and publishes the files the control loop hands it.
func (s *Source) worker(ctx context.Context) error {
	sp, err := chunk.NewSplitter()
	if err != nil {
		return err
	}
	for p := range s.jobs {
		s.publishFile(ctx, sp, p)
	}
	return nil
}

// publishFile reads path, publishes its missing chunks and then its
// record, without waiting for the chunks' acks: the broker stores one
// connection's messages in order, and the record's ack, which settles the
// job, counts only if every chunk it needs was acknowledged before it.
// Any failure here settles the job too.
func (s *Source) publishFile(ctx context.Context, sp *chunk.Splitter, path string) {
	fr, err := s.readStable(ctx, sp, path)
	if err == nil {
		s.noteRead(fr)
		err = s.publishFileRecord(ctx, fr)
	}
	if err != nil {
		s.fileFailed(ctx, path, err)
		s.track.done()
	}
}

// readStable reads path until a read is not torn by a concurrent change.
func (s *Source) readStable(ctx context.Context, sp *chunk.Splitter, path string) (*fileRead, error) {
	for attempt := range readAttempts {
		if attempt > 0 && !sleep(ctx, readBackoff<<(attempt-1)) {
			return nil, ctx.Err()
		}
		fr, err := s.readOnce(ctx, sp, path)
		if !errors.Is(err, errUnstable) {
			return fr, err
		}
	}
	return nil, errUnstable
}

// noteRead pins the version read for the content service (or unpins the
// path, whose file serves a settled version) and follows a file that is
// changing until a settled read of it is published.
func (s *Source) noteRead(fr *fileRead) {
	path := fr.e.Path
	s.pins.put(fr.e, fr.pin)
	if fr.how != "" {
		s.metrics.changing.WithLabelValues(fr.how).Inc()
	}
	if fr.e.CTime != unsettledCTime {
		if s.busy.settled(path) {
			s.log.Debug("file holds still again", "path", path)
		}
		return
	}
	if s.busy.mark(path) {
		s.log.Info("file keeps changing; publishing versions of it read consistently", "path", path, "how", fr.how)
	}
}

// countPublished counts n bytes of content published.
func (s *Source) countPublished(n int) {
	s.prog.publishedB.Add(int64(n))
	s.metrics.bytes.Add(float64(n))
}

// publishFileRecord publishes the record of a file read by readStable.
func (s *Source) publishFileRecord(ctx context.Context, fr *fileRead) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e := fr.e
	attrs, err := s.fileAttrs(e.Path, e.Ino)
	if err != nil {
		return err
	}
	rec := &wire.Record{Path: e.Path, Type: wire.File, Mode: e.Mode, MTime: e.MTime, Size: e.Size, Hash: e.Hash,
		Cached: fr.cached && fr.inline == nil, Attrs: attrs}
	rec.Extents = e.Extents
	switch {
	case fr.inline != nil:
		rec.Data = fr.inline
	case len(e.Manifest) > 0:
		rec.Manifest = e.Manifest
	default:
		rec.Chunks = e.Chunks
	}
	s.fresh.put(e)
	err = s.publishRecord(ctx, rec, e)
	if err != nil {
		s.fresh.done(e) // nothing was sent
	}
	return err
}

// fileFailed sorts a failure into: retry soon, wait for the next scan, or
// nothing to do (shutting down).
func (s *Source) fileFailed(ctx context.Context, path string, err error) {
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, errGone):
		s.busy.settled(path)
		s.retry.add(path)
	case errors.Is(err, errUnstable):
		s.countError("unstable", fmt.Sprintf("%s: %v", path, err))
		if s.busy.mark(path) {
			s.log.Info("file keeps changing; reading it again until a consistent version is found", "path", path,
				"every", s.busyPeriod(), "max_staleness", s.cfg.MaxStaleness)
		} else {
			s.log.Debug("file still changing", "path", path)
		}
	case errors.Is(err, errRead):
		s.log.Error("cannot read file; will retry on the next scan", "path", path, "err", err)
		s.countError("read", err.Error())
	default:
		s.recordFailed(path, err)
	}
}

var errRead = errors.New("read")

// goneOr maps a vanished path to errGone and wraps anything else as a read
// error.
func goneOr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) || isLoop(err) {
		return errGone
	}
	return fmt.Errorf("%w: %w", errRead, err)
}

// ctxReader stops a long read when the source shuts down. Read errors
// are marked errRead so they are not mistaken for broker trouble.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errRead, err)
	}
	return n, err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
