package chunk

import (
	"errors"
	"fmt"
	"io"

	cdc "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // registers "fastcdc"

	"github.com/jetsync/jetsync/pkg/wire"
)

// Chunk size bounds. A 64 KiB average keeps the data republished after a
// 1 MiB edit close to 1 MiB while a chunk stays far below NATS's default
// 1 MiB max_payload.
const (
	MinSize = 16 << 10
	AvgSize = 64 << 10
	MaxSize = 256 << 10
)

var opts = &cdc.ChunkerOpts{MinSize: MinSize, NormalSize: AvgSize, MaxSize: MaxSize}

// Splitter chunks streams. It reuses its buffers and is not safe for
// concurrent use; keep one per goroutine.
type Splitter struct {
	c    *cdc.Chunker
	file *Hasher
}

// NewSplitter returns a Splitter.
func NewSplitter() (*Splitter, error) {
	c, err := cdc.NewChunkerBuffer("fastcdc", nil, opts, make([]byte, 2*MaxSize))
	if err != nil {
		return nil, fmt.Errorf("create chunker: %w", err)
	}
	return &Splitter{c: c, file: NewHasher()}, nil
}

// Split reads r to the end, calling fn for every chunk in order with its
// hash. data is only valid during the call. Past the first MiB, fn runs on
// another goroutine (one call at a time, in order, all done when Split
// returns), so that chunking goes on meanwhile. It returns the hash of the
// whole stream and its length.
func (s *Splitter) Split(r io.Reader, fn func(h wire.Hash, data []byte) error) (wire.Hash, int64, error) {
	run := s.begin(fn)
	defer run.stop()
	if err := run.chunk(r); err != nil {
		return wire.Hash{}, run.n, err
	}
	return run.end()
}

// SplitRanges is Split over the data ranges of a sparse file of size
// bytes: each range is read from r and chunked on its own, so no chunk
// spans two, and the bytes outside them enter the whole-file hash as
// zeros without being read. It returns that hash (of all size bytes) and
// the number of data bytes read, which is short of the ranges' total
// only if r ended early.
func (s *Splitter) SplitRanges(r io.ReaderAt, ranges []wire.Extent, size int64,
	fn func(h wire.Hash, data []byte) error) (wire.Hash, int64, error) {
	run := s.begin(fn)
	defer run.stop()
	var pos int64 // file offset hashed up to
	for _, e := range ranges {
		if e.Off < pos || e.End() > size {
			return wire.Hash{}, run.n, fmt.Errorf("split ranges: range %+v out of order or past %d", e, size)
		}
		s.file.WriteZeros(e.Off - pos)
		if err := run.chunk(io.NewSectionReader(r, e.Off, e.Len)); err != nil {
			return wire.Hash{}, run.n, err
		}
		pos = e.End()
	}
	s.file.WriteZeros(size - pos)
	return run.end()
}

// splitRun is one Split or SplitRanges: the chunks' callback, the pipe it
// moves to once the stream is big, and the bytes chunked so far.
type splitRun struct {
	s    *Splitter
	fn   func(h wire.Hash, data []byte) error
	pipe *hashPipe // once the stream is big: chunk hashes and fn on other goroutines
	n    int64
}

func (s *Splitter) begin(fn func(h wire.Hash, data []byte) error) *splitRun {
	s.file.Reset()
	return &splitRun{s: s, fn: fn}
}

// stop ends the run's goroutines, whatever happened.
func (run *splitRun) stop() {
	_ = run.pipe.finish()
	run.s.file.Stop()
}

// chunk cuts r to its end into chunks, handed to fn.
func (run *splitRun) chunk(r io.Reader) error {
	c := run.s.c
	c.Reset(r)
	for {
		data, err := c.Next()
		if len(data) > 0 {
			if ferr := run.put(data); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read content: %w", err)
		}
	}
}

func (run *splitRun) put(data []byte) error {
	run.n += int64(len(data))
	run.s.file.Write(data)
	if run.pipe == nil && run.n >= asyncAfter {
		run.pipe = startHashPipe(run.fn)
	}
	if run.pipe != nil {
		return run.pipe.put(data)
	}
	return run.fn(wire.Sum(data), data)
}

// end waits for fn to have seen every chunk and returns the whole-file
// hash and the bytes chunked.
func (run *splitRun) end() (wire.Hash, int64, error) {
	if err := run.pipe.finish(); err != nil {
		return wire.Hash{}, run.n, err
	}
	sum, _ := run.s.file.Sum()
	return sum, run.n, nil
}
