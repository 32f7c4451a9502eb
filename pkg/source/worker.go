package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Torn-read handling: a file that changes while it is read is read again
// up to readAttempts times, waiting readBackoff, 2×readBackoff, … between.
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

// fileRead is one consistent read of a file: its entry, its content
// inline for a small file, and whether its new chunks went to the cache.
type fileRead struct {
	e      *index.Entry
	inline []byte // chunk payload of the whole content (wire.Record.Data)
	cached bool
}

// readOnce lstats, opens without following symlinks, chunks and publishes,
// then fstats: the read counts only if the file did not change meanwhile.
func (s *Source) readOnce(ctx context.Context, sp *chunk.Splitter, path string) (*fileRead, error) {
	st, err := s.settledStat(ctx, path)
	if err != nil {
		return nil, err
	}
	f, err := s.openFn(s.abs(path), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, goneOr(err)
	}
	defer f.Close()
	if st.Size > 0 && st.Size <= wire.InlineSize {
		return s.readInline(ctx, f, path, st)
	}
	cache := s.cacheFor(path)
	e, err := s.chunkFile(ctx, sp, f, path, st, cache)
	if err != nil {
		return nil, err
	}
	return &fileRead{e: e, cached: cache != nil}, nil
}

// readInline reads a small file whole; its content travels in its record.
func (s *Source) readInline(ctx context.Context, f *os.File, path string, st index.Stat) (*fileRead, error) {
	buf := make([]byte, st.Size+1) // one more byte shows a file that grew
	n, err := io.ReadFull(ctxReader{ctx, f}, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if err := checkUnchanged(f, st, int64(n)); err != nil {
		return nil, err
	}
	data := buf[:n]
	e := &index.Entry{Path: path, Stat: st, Hash: wire.Sum(data)}
	return &fileRead{e: e, inline: wire.EncodeChunk(nil, data, s.cfg.Compression)}, nil
}

// settledStat lstats a regular file whose timestamps are old enough that
// any later write changes them (see racyWindow), waiting a moment for a
// file modified just now.
func (s *Source) settledStat(ctx context.Context, path string) (index.Stat, error) {
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		fi, err := os.Lstat(s.abs(path))
		if err != nil {
			return index.Stat{}, goneOr(err)
		}
		st := statOf(fi)
		if st.Type != wire.File {
			return st, errGone
		}
		if !racy(st, t0) {
			return st, nil
		}
		if attempt > 0 || !sleep(ctx, racyWindow) {
			return st, errUnstable
		}
	}
}

// chunkFile cuts the file into chunks and lists them in its entry. The
// content itself stays here: replicas take it from their own disks, from
// the content cache (cache, when not nil, sends this change's new chunks
// there) or from this source's content service.
func (s *Source) chunkFile(ctx context.Context, sp *chunk.Splitter, f *os.File, path string, st index.Stat, cache *cacheSend) (*index.Entry, error) {
	e := &index.Entry{Path: path, Stat: st}
	hash, n, err := sp.Split(ctxReader{ctx, f}, func(h wire.Hash, data []byte) error {
		e.Chunks = append(e.Chunks, wire.ChunkRef{Hash: h, Size: uint32(len(data))})
		return s.cacheChunk(ctx, cache, h, data)
	})
	if err == nil {
		err = checkUnchanged(f, st, n)
	}
	if err != nil {
		return nil, err
	}
	e.Hash = hash
	return e, s.putManifest(ctx, e, cache)
}

// checkUnchanged compares the open file with the lstat taken before it was
// opened: same inode, size, mtime and ctime, and as many bytes read as the
// size says.
func checkUnchanged(f *os.File, before index.Stat, n int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat open file: %w", err)
	}
	if after := statOf(fi); after != before || n != before.Size {
		return errUnstable
	}
	return nil
}

// putManifest moves a chunk list too long for a record into manifest
// blobs, which the source serves like chunks.
func (s *Source) putManifest(ctx context.Context, e *index.Entry, cache *cacheSend) error {
	if len(e.Chunks) <= wire.MaxInlineChunks {
		return nil
	}
	for _, blob := range wire.EncodeManifest(e.Chunks) {
		h := wire.Sum(blob)
		e.Manifest = append(e.Manifest, wire.ChunkRef{Hash: h, Size: uint32(len(blob))})
		if err := s.cacheChunk(ctx, cache, h, blob); err != nil {
			return err
		}
	}
	return nil
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
	rec := &wire.Record{Path: e.Path, Type: wire.File, Mode: e.Mode, MTime: e.MTime, Size: e.Size, Hash: e.Hash,
		Cached: fr.cached && fr.inline == nil}
	switch {
	case fr.inline != nil:
		rec.Data = fr.inline
	case len(e.Manifest) > 0:
		rec.Manifest = e.Manifest
	default:
		rec.Chunks = e.Chunks
	}
	s.fresh.put(e)
	err := s.publishRecord(ctx, rec, e)
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
		s.retry.add(path)
	case errors.Is(err, errUnstable):
		s.log.Info("file keeps changing; will try again", "path", path)
		s.countError("unstable", fmt.Sprintf("%s: %v", path, err))
		s.retry.add(path)
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
