package fsmeta

import (
	"fmt"
	"io"
	"os"
)

// Range is a byte range of a file: Len bytes from Off.
type Range struct {
	Off, Len int64
}

// End returns the offset just past r.
func (r Range) End() int64 { return r.Off + r.Len }

// whole is the answer where holes cannot be found: all of [0, size).
func whole(size int64) []Range {
	if size <= 0 {
		return nil
	}
	return []Range{{0, size}}
}

// WriteSparse fills a new, empty file f from src: it writes only the data
// ranges, at their offsets, then sets the size, so that every byte
// outside data is left a hole on file systems that keep holes.
func WriteSparse(f *os.File, src io.ReaderAt, data []Range, size int64) error {
	buf := make([]byte, 1<<20)
	for _, r := range data {
		if r.Off < 0 || r.Len < 0 || r.End() > size {
			return fmt.Errorf("write sparse %s: range %+v outside size %d", f.Name(), r, size)
		}
		if _, err := io.CopyBuffer(io.NewOffsetWriter(f, r.Off), io.NewSectionReader(src, r.Off, r.Len), buf); err != nil {
			return fmt.Errorf("write sparse %s: %w", f.Name(), err)
		}
	}
	return f.Truncate(size)
}

// PunchOrSkip makes r of f read as zeros. In a fresh file (nothing yet
// written in r) there is nothing to do: the final Truncate leaves r a
// hole. In a file being rewritten in place it deallocates r where the
// platform can (Linux: fallocate PUNCH_HOLE) and writes zeros elsewhere.
func PunchOrSkip(f *os.File, r Range, fresh bool) error {
	if fresh || r.Len <= 0 {
		return nil
	}
	if punchHole(f, r) == nil {
		return nil
	}
	return writeZeros(f, r)
}

// writeZeros writes r.Len zero bytes at r.Off.
func writeZeros(f *os.File, r Range) error {
	zeros := make([]byte, min(r.Len, 1<<20))
	for off := r.Off; off < r.End(); {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), r.End()-off)], off)
		if err != nil {
			return fmt.Errorf("zero %s at %d: %w", f.Name(), off, err)
		}
		off += int64(n)
	}
	return nil
}
