package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// How the version of a file that was changing while it was read was
// taken (fileRead.how, the label of the changing_reads_total metric). A
// file that did not change is read "settled" and has no label.
const (
	readReplaced = "replaced" // a settled read of a version the path no longer names (it was renamed over)
	readClone    = "clone"    // from a clone the file system made at once (FICLONE)
	readPrefix   = "prefix"   // the part a file that only grew had when the read began, read twice
	readVerified = "verified" // a read a second one confirmed, after waiting MaxStaleness/2 for a settled one
)

// unsettledCTime is the ctime kept in the index for a version taken from
// a file that was changing: no lstat ever matches it, so the next look at
// the path reads the file again and publishes its settled state.
const unsettledCTime = -1

// fileRead is one consistent read of a file: its entry, its content
// inline for a small file, whether its new chunks went to the cache, how
// it was read if the file was changing, and what serves its content when
// the path may not hold it any more (nil: the path).
type fileRead struct {
	e      *index.Entry
	inline []byte // chunk payload of the whole content (wire.Record.Data)
	cached bool
	how    string
	pin    *pin
}

// reading is one attempt at reading a file: the open file and what is
// known about it. It owns f until a pin does.
type reading struct {
	s    *Source
	sp   *chunk.Splitter
	path string
	f    *os.File
	st   index.Stat // of f, before the read
	// links is how many names f had then: a file renamed over loses its
	// last one, which moves its ctime but not its content.
	links uint64
	grew  bool // it grew while it settled
	// hot: the file changed lately (it had to settle, or keeps changing):
	// its version is pinned for the content service, and its bytes are
	// kept while read if it is small enough.
	hot  bool
	kept []byte // the content read, for a hot file of at most memPinMax bytes
	// keptExt are the extents of a sparse file's kept content (its data
	// only); nil if it is dense.
	keptExt []wire.Extent
	cache   *cacheSend
	clone   bool // a clone was tried
}

// readOnce reads path once: a settled read if the file holds still, or
// else, if it is changing, one of the consistent versions changing.go
// describes; errUnstable if it has none.
func (s *Source) readOnce(ctx context.Context, sp *chunk.Splitter, path string) (*fileRead, error) {
	f, err := s.openRegular(path)
	if err != nil {
		return nil, err
	}
	rd := &reading{s: s, sp: sp, path: path, f: f}
	defer rd.close()
	return rd.read(ctx)
}

// openRegular opens path, only if it is a regular file (opening a device
// may have effects), without following a symlink put there meanwhile.
func (s *Source) openRegular(path string) (*os.File, error) {
	fi, err := os.Lstat(s.abs(path))
	if err != nil {
		return nil, goneOr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errGone
	}
	f, err := s.openFn(s.abs(path), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, goneOr(err)
	}
	return f, nil
}

func (rd *reading) close() {
	if rd.f != nil {
		rd.f.Close()
	}
}

func (rd *reading) read(ctx context.Context) (*fileRead, error) {
	settled, err := rd.settle(ctx)
	if err != nil {
		return nil, err
	}
	rd.hot = rd.hot || rd.s.busy.has(rd.path)
	rd.cache = rd.s.cacheFor(rd.path)
	if !settled {
		if fr, err := rd.fromClone(ctx); fr != nil || err != nil {
			return fr, err
		}
	}
	fr, err := rd.content(ctx, rd.f, rd.st, rd.hot)
	if err != nil {
		return nil, err
	}
	after, links, err := fstatLinks(rd.f)
	if err != nil {
		return nil, err
	}
	if settled && rd.same(after, links) {
		return rd.settled(fr), nil
	}
	if fr, err := rd.fromClone(ctx); fr != nil || err != nil {
		return fr, err
	}
	return rd.confirm(ctx, fr, after, links)
}

// settle fstats the open file. If its timestamps are too recent for a
// later change to move them (see racyWindow), it waits racyWindow and
// looks again; settled reports whether the file had not changed by then.
// The stat it keeps is the latest.
func (rd *reading) settle(ctx context.Context) (bool, error) {
	t0 := time.Now()
	var err error
	if rd.st, rd.links, err = fstatLinks(rd.f); err != nil {
		return false, err
	}
	if !racy(rd.st, t0) {
		return true, nil
	}
	rd.hot = true
	if !sleep(ctx, racyWindow) {
		return false, ctx.Err()
	}
	again, links, err := fstatLinks(rd.f)
	if err != nil {
		return false, err
	}
	same := rd.same(again, links)
	rd.grew = again.Ino == rd.st.Ino && again.Size > rd.st.Size
	rd.st, rd.links = again, links
	return same, nil
}

// same reports whether the open file, whose stat is now st with links
// names, still holds the version rd.st describes: unchanged, or only
// unlinked since (its last name renamed over or removed).
func (rd *reading) same(st index.Stat, links uint64) bool {
	if st == rd.st {
		return true
	}
	if rd.links == 0 || links != 0 {
		return false
	}
	st.CTime = rd.st.CTime
	return st == rd.st
}

// fstat is the index's view of an open file; errGone if it is not a
// regular file.
func fstat(f *os.File) (index.Stat, error) {
	st, _, err := fstatLinks(f)
	return st, err
}

// fstatLinks is fstat, and how many names the file has.
func fstatLinks(f *os.File) (index.Stat, uint64, error) {
	fi, err := f.Stat()
	if err != nil {
		return index.Stat{}, 0, fmt.Errorf("%w: stat open file: %w", errRead, err)
	}
	st := statOf(fi)
	if st.Type != wire.File {
		return st, 0, errGone
	}
	return st, linkCount(fi), nil
}

// settled finishes a read during which the file did not change. A hot
// file's version is pinned: the open file if the path has been renamed
// over since (the rename does not change it), else its bytes if they were
// kept, else the open file.
func (rd *reading) settled(fr *fileRead) *fileRead {
	if !rd.hot || fr.inline != nil {
		return fr
	}
	if fi, err := os.Lstat(rd.s.abs(rd.path)); err != nil || statOf(fi).Ino != rd.st.Ino {
		fr.how = readReplaced
		fr.pin = rd.filePin()
		return fr
	}
	if rd.kept != nil {
		fr.pin = rd.keptPin()
	} else {
		fr.pin = rd.filePin()
	}
	return fr
}

// filePin hands the open file over to a pin.
func (rd *reading) filePin() *pin {
	p := filePin(rd.f)
	rd.f = nil
	return p
}

// content reads the first st.Size bytes of r: inline for a small file,
// else cut into chunks (the new ones go to the cache when rd.cache says
// so), only its data ranges if it is worth publishing sparse (see
// sparseExtents). It keeps the bytes in rd.kept if keep is set and they
// are few enough. The entry has stat st; n bytes short of st.Size, it
// fails with errUnstable (the file shrank).
func (rd *reading) content(ctx context.Context, r io.ReaderAt, st index.Stat, keep bool) (*fileRead, error) {
	if st.Size > 0 && st.Size <= wire.InlineSize {
		data := make([]byte, st.Size)
		_, err := io.ReadFull(ctxReader{ctx, io.NewSectionReader(r, 0, st.Size)}, data)
		if err != nil {
			return nil, shortRead(err)
		}
		rd.s.metrics.read.Add(float64(len(data)))
		e := &index.Entry{Path: rd.path, Stat: st, Hash: wire.Sum(data)}
		return &fileRead{e: e, inline: wire.EncodeChunk(nil, data, rd.s.cfg.Compression)}, nil
	}
	ext, err := sparseExtents(r, st.Size)
	if err != nil {
		return nil, err
	}
	e := &index.Entry{Path: rd.path, Stat: st, Extents: ext}
	nData := dataLen(ext, st.Size)
	var kept []byte
	if keep = keep && nData <= memPinMax; keep {
		kept = make([]byte, 0, nData)
	}
	fn := func(h wire.Hash, data []byte) error {
		e.Chunks = append(e.Chunks, wire.ChunkRef{Hash: h, Size: uint32(len(data))})
		if keep {
			kept = append(kept, data...)
		}
		return rd.s.cacheChunk(ctx, rd.cache, h, data)
	}
	hash, n, err := rd.split(ctx, r, ext, st.Size, fn)
	if err == nil && n != nData {
		err = errUnstable
	}
	if err != nil {
		return nil, err
	}
	e.Hash = hash
	rd.kept, rd.keptExt = kept, ext
	return &fileRead{e: e, cached: rd.cache != nil}, rd.s.putManifest(ctx, e, rd.cache)
}

// split chunks the first size bytes of r, or only its extents ext if they
// are set (see chunk.Splitter.SplitRanges), and counts the bytes read.
func (rd *reading) split(ctx context.Context, r io.ReaderAt, ext []wire.Extent, size int64,
	fn func(wire.Hash, []byte) error) (wire.Hash, int64, error) {
	var hash wire.Hash
	var n int64
	var err error
	if ext != nil {
		hash, n, err = rd.sp.SplitRanges(ctxReaderAt{ctx, r}, ext, size, fn)
	} else {
		hash, n, err = rd.sp.Split(ctxReader{ctx, io.NewSectionReader(r, 0, size)}, fn)
	}
	rd.s.metrics.read.Add(float64(n))
	return hash, n, err
}

// shortRead maps a file that ended before its size to errUnstable.
func shortRead(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errUnstable
	}
	return err
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
