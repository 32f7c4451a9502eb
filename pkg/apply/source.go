package apply

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// bufPool holds chunk-sized buffers for reading local content and hashing
// files, so parallel applies share a bounded set of them.
var bufPool = sync.Pool{New: func() any { b := make([]byte, wire.MaxChunkLen); return &b }}

// source yields the chunks of one file, from local files when they hold
// them, else from Content. It keeps the last local file open, since
// consecutive chunks usually come from the same one.
type source struct {
	a      *Applier
	path   string // the file being applied, for errors
	res    *Result
	buf    *[]byte
	open   string
	f      *os.File
	logger *slog.Logger
	pf     *prefetcher
}

func (a *Applier) newSource(path string, res *Result) *source {
	return &source{a: a, path: path, res: res, buf: bufPool.Get().(*[]byte), logger: a.log()}
}

func (s *source) close() {
	s.pf.stop()
	s.closeLocal()
	bufPool.Put(s.buf)
	s.buf = nil
}

func (s *source) closeLocal() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.open = ""
}

// prefetch starts fetching, ahead of chunk, the chunks of cs that no
// local file holds.
func (s *source) prefetch(ctx context.Context, cs []wire.ChunkRef) {
	s.pf = startPrefetch(ctx, s.a.Content, cs, func(c wire.ChunkRef) bool {
		if s.a.Local == nil {
			return true
		}
		_, off, ok := s.a.Local.FindChunk(c.Hash)
		return !ok || off < 0
	})
}

// chunk returns the content of c, the i-th chunk of the list given to
// prefetch (if it was called). The slice is valid until the next call.
func (s *source) chunk(ctx context.Context, i int, c wire.ChunkRef) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, &fsroot.PathError{Op: "apply", Path: s.path, Err: err}
	}
	if r, ok := s.pf.take(ctx, i); ok {
		if r.err != nil {
			return nil, &fsroot.PathError{Op: "fetch chunk for", Path: s.path, Err: r.err}
		}
		s.res.Fetched += int64(len(r.data))
		return r.data, nil
	}
	if data, ok := s.local(c); ok {
		s.res.Reused += int64(len(data))
		return data, nil
	}
	data, err := fetch(ctx, s.a.Content, c)
	if err != nil {
		return nil, &fsroot.PathError{Op: "fetch chunk for", Path: s.path, Err: err}
	}
	s.res.Fetched += int64(len(data))
	return data, nil
}

// fetch gets c from content and checks its length; its hash is the
// content's to check, and the whole file's hash backs that up.
func fetch(ctx context.Context, content Content, c wire.ChunkRef) ([]byte, error) {
	data, err := content.Chunk(ctx, c.Hash)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", c.Hash, err)
	}
	if len(data) != int(c.Size) {
		return nil, fmt.Errorf("%w: chunk %s has %d bytes, want %d", wire.ErrCorrupt, c.Hash, len(data), c.Size)
	}
	return data, nil
}

// local reads c from where the Local index says it is, verifying it.
// Any failure just means fetching it instead.
func (s *source) local(c wire.ChunkRef) ([]byte, bool) {
	if s.a.Local == nil {
		return nil, false
	}
	path, off, ok := s.a.Local.FindChunk(c.Hash)
	if !ok || off < 0 {
		return nil, false
	}
	data := (*s.buf)[:c.Size]
	if err := s.readAt(path, off, data); err != nil {
		s.logger.Debug("local chunk unusable", "chunk", c.Hash, "file", path, "err", err)
		return nil, false
	}
	if wire.Sum(data) != c.Hash {
		s.logger.Debug("local chunk stale", "chunk", c.Hash, "file", path)
		return nil, false
	}
	return data, true
}

func (s *source) readAt(path string, off int64, data []byte) error {
	if path != s.open {
		s.closeLocal()
		f, err := s.a.Root.Open(path)
		if err != nil {
			return err
		}
		s.f, s.open = f, path
	}
	_, err := s.f.ReadAt(data, off)
	return err
}
