package apply

import (
	"context"
	"fmt"
	"sync"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// bufPool holds buffers of the chunker's largest chunk, for reading local
// content and hashing files, so parallel applies share a bounded set of
// them. A chunk announced larger (the wire allows up to MaxChunkLen) gets
// a buffer of its own.
var bufPool = sync.Pool{New: func() any { b := make([]byte, chunk.MaxSize); return &b }}

// getBuf returns a buffer of at least n bytes; putBuf gives it back.
func getBuf(n uint32) *[]byte {
	if n > chunk.MaxSize {
		b := make([]byte, n)
		return &b
	}
	return bufPool.Get().(*[]byte)
}

func putBuf(b *[]byte) {
	if b != nil && len(*b) == chunk.MaxSize {
		bufPool.Put(b)
	}
}

// source yields the chunks of one file in order, from local files when
// they hold them, else from Content.
type source struct {
	a     *Applier
	rec   *wire.Record // the file being applied
	res   *Result
	held  *[]byte // buffer of the chunk last returned without a prefetcher
	local *localReader
	pf    *prefetcher
	taken int // chunks of rec.Chunks returned without a prefetcher
}

// newSource starts obtaining rec's chunks. A list of one chunk is
// obtained as it is asked for: it has nothing to overlap with.
func (a *Applier) newSource(ctx context.Context, rec *wire.Record, res *Result) *source {
	s := &source{a: a, rec: rec, res: res, local: &localReader{a: a}}
	if len(rec.Manifest) > 0 || len(rec.Chunks) > 1 {
		s.pf = startPrefetch(ctx, a, rec, &chunkList{a: a, rec: rec})
	}
	return s
}

func (s *source) close() {
	s.pf.stop()
	s.local.close()
	putBuf(s.held)
	s.held = nil
}

// next returns the file's next chunk, its content valid until the next
// call; r.seg is set on the last chunk of a segment. After the last
// chunk it returns r.end.
func (s *source) next(ctx context.Context) (r fetched, err error) {
	if err := ctx.Err(); err != nil {
		return fetched{}, &fsroot.PathError{Op: "apply", Path: s.rec.Path, Err: err}
	}
	if s.pf != nil {
		r = s.pf.take(ctx)
	} else {
		r = s.direct(ctx)
	}
	switch {
	case r.end:
		return r, r.err // nil, or the list's error, which names the path
	case r.err != nil:
		return r, &fsroot.PathError{Op: "fetch chunk for", Path: s.rec.Path, Err: r.err}
	}
	if r.local {
		s.res.Reused += int64(len(r.data))
	} else {
		s.res.Fetched += int64(len(r.data))
	}
	if r.seg != nil {
		s.res.Fetched += r.seg.blobLen
	}
	return r, nil
}

// direct obtains the next chunk of an inline list without a prefetcher.
func (s *source) direct(ctx context.Context) fetched {
	if s.taken == len(s.rec.Chunks) {
		return fetched{end: true}
	}
	c := s.rec.Chunks[s.taken]
	s.taken++
	putBuf(s.held)
	r := obtain(ctx, s.a, s.local, Want{Rec: s.rec, Ref: c})
	s.held = r.buf
	return r
}

// obtain reads c from a local file if one holds it intact, else fetches
// it. A local read is in a pooled buffer that the result carries (buf),
// which the caller gives back with putBuf once done with the data.
func obtain(ctx context.Context, a *Applier, lr *localReader, w Want) fetched {
	if r, ok := obtainLocal(lr, w.Ref); ok {
		return r
	}
	data, err := fetch(ctx, a.Content, w)
	return fetched{data: data, err: err}
}

// obtainLocal reads c from a local file that holds it intact, if any.
func obtainLocal(lr *localReader, c wire.ChunkRef) (fetched, bool) {
	if path, off, ok := lr.find(c); ok {
		buf := getBuf(c.Size)
		if data, ok := lr.read(c, path, off, (*buf)[:c.Size]); ok {
			return fetched{data: data, local: true, buf: buf}, true
		}
		putBuf(buf)
	}
	return fetched{}, false
}

// fetch gets w from content and checks its length; its hash is the
// content's to check, and the whole file's hash backs that up.
func fetch(ctx context.Context, content Content, w Want) ([]byte, error) {
	c := w.Ref
	data, err := content.Chunk(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", c.Hash, err)
	}
	if len(data) != int(c.Size) {
		return nil, fmt.Errorf("%w: chunk %s has %d bytes, want %d", wire.ErrCorrupt, c.Hash, len(data), c.Size)
	}
	return data, nil
}
