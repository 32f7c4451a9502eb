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
	s.c.Reset(r)
	s.file.Reset()
	defer s.file.Stop()
	var pipe *hashPipe // once the stream is big: chunk hashes and fn on other goroutines
	defer func() { _ = pipe.finish() }()
	var n int64
	for {
		data, err := s.c.Next()
		if len(data) > 0 {
			n += int64(len(data))
			s.file.Write(data)
			if pipe == nil && n >= asyncAfter {
				pipe = startHashPipe(fn)
			}
			var ferr error
			if pipe != nil {
				ferr = pipe.put(data)
			} else {
				ferr = fn(wire.Sum(data), data)
			}
			if ferr != nil {
				return wire.Hash{}, n, ferr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return wire.Hash{}, n, fmt.Errorf("read content: %w", err)
		}
	}
	if err := pipe.finish(); err != nil {
		return wire.Hash{}, n, err
	}
	sum, _ := s.file.Sum()
	return sum, n, nil
}
