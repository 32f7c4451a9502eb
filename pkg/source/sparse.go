package source

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// sparseMinHole is how many bytes of holes make a file travel sparse:
// with fewer, the extents cost more than the zeros they spare.
var sparseMinHole int64 = 64 << 10

// sparseExtents returns the data ranges of the first size bytes of r if
// it is a file worth publishing sparse: holes of sparseMinHole bytes at
// least, in at most wire.MaxExtents ranges. nil means publish it dense.
// An empty, non-nil result is a file that is all hole.
func sparseExtents(r io.ReaderAt, size int64) ([]wire.Extent, error) {
	f, ok := r.(*os.File)
	if !ok || size < sparseMinHole {
		return nil, nil
	}
	ranges, err := fsmeta.DataRanges(f, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRead, err)
	}
	hole := size
	for _, x := range ranges {
		hole -= x.Len
	}
	if hole < sparseMinHole || len(ranges) > wire.MaxExtents {
		return nil, nil
	}
	if ranges == nil {
		ranges = []wire.Extent{}
	}
	return ranges, nil
}

// dataLen is how many bytes of a file of size bytes its content holds:
// all, or those of its extents ext if it is sparse.
func dataLen(ext []wire.Extent, size int64) int64 {
	if ext == nil {
		return size
	}
	var n int64
	for _, x := range ext {
		n += x.Len
	}
	return n
}

// keptPin pins the content kept while reading a hot file.
func (rd *reading) keptPin() *pin {
	if rd.keptExt == nil {
		return bytesPin(rd.kept)
	}
	p := bytesPin(nil)
	p.r, p.mem = &sparseBytes{data: rd.kept, ext: rd.keptExt, size: rd.st.Size}, int64(len(rd.kept))
	return p
}

// sparseBytes reads a sparse file's version kept in memory: data holds
// the bytes of its extents, concatenated; the rest reads as zeros.
type sparseBytes struct {
	data []byte
	ext  []wire.Extent
	size int64
}

// ReadAt reads the version's bytes at off.
func (s *sparseBytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	clear(p[:n])
	end := off + int64(n)
	var pos int64 // data offset of x
	for _, x := range s.ext {
		if lo, hi := max(off, x.Off), min(end, x.End()); lo < hi {
			copy(p[lo-off:hi-off], s.data[pos+lo-x.Off:])
		}
		pos += x.Len
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// ctxReaderAt is ctxReader for reads at offsets.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errRead, err)
	}
	return n, err
}
