//go:build linux || freebsd

package fsmeta

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DataRanges returns the ranges of f holding data, in order, found with
// lseek SEEK_DATA and SEEK_HOLE: two system calls per range, and no byte
// of a hole is read. A file system that cannot tell gives one range
// [0, size). size is the size to consider (from the caller's stat); data
// past it is ignored. The file offset is left anywhere: read with ReadAt.
func DataRanges(f *os.File, size int64) ([]Range, error) {
	fd := int(f.Fd())
	var out []Range
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO): // only a hole from off on
			return out, nil
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EOPNOTSUPP):
			if off == 0 {
				return whole(size), nil
			}
			return nil, fmt.Errorf("seek data %s: %w", f.Name(), err)
		case err != nil:
			return nil, fmt.Errorf("seek data %s: %w", f.Name(), err)
		}
		if data >= size {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("seek hole %s: %w", f.Name(), err)
		}
		hole = min(hole, size)
		out = append(out, Range{data, hole - data})
		off = hole
	}
	return out, nil
}
