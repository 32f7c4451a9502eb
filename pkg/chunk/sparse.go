package chunk

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zeebo/blake3"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// zeros is what the holes of a sparse file are hashed from: they are
// never read. It is MaxSize long so that a Hasher's buffers, sized by the
// chunks written to it, stay that size.
var zeros [MaxSize]byte

// WriteZeros adds n zero bytes to the stream: a hole of a sparse file.
func (h *Hasher) WriteZeros(n int64) {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		h.Write(zeros[:k])
		n -= k
	}
}

// writeZeros adds n zero bytes to h.
func writeZeros(h *blake3.Hasher, n int64) {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		_, _ = h.Write(zeros[:k])
		n -= k
	}
}

// HashFile returns the BLAKE3 hash of the content of f, up to the size
// it has when called, and how many bytes of content that was (less than
// the size if the file shrank meanwhile). See HashPrefix.
func HashFile(f *os.File, buf []byte, each func(n int) error) (wire.Hash, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return wire.Hash{}, 0, fmt.Errorf("hash %s: %w", f.Name(), err)
	}
	return HashPrefix(f, fi.Size(), buf, each)
}

// HashPrefix returns the BLAKE3 hash of the first size bytes of f, and
// how many bytes it had (less than size if it is shorter). Only its data
// ranges are read (fsmeta.DataRanges): holes enter the hash as zeros.
// Reads go through buf; each, if set, is called with the length of each
// read and may stop the hashing by returning an error.
func HashPrefix(f *os.File, size int64, buf []byte, each func(n int) error) (wire.Hash, int64, error) {
	ranges, err := fsmeta.DataRanges(f, size)
	if err != nil {
		return wire.Hash{}, 0, err
	}
	h := blake3.New()
	var pos int64
	for _, r := range ranges {
		writeZeros(h, r.Off-pos)
		n, err := hashRange(h, f, r, buf, each)
		if err != nil {
			return wire.Hash{}, 0, err
		}
		if pos = r.Off + n; n < r.Len {
			return wire.Hash(h.Sum(nil)), pos, nil // shorter than size
		}
	}
	if pos < size { // a hole to the end, or the end of a file that shrank
		fi, err := f.Stat()
		if err != nil {
			return wire.Hash{}, 0, fmt.Errorf("hash %s: %w", f.Name(), err)
		}
		if fi.Size() < size {
			return wire.Hash(h.Sum(nil)), max(pos, fi.Size()), nil
		}
		writeZeros(h, size-pos)
	}
	return wire.Hash(h.Sum(nil)), size, nil
}

// hashRange adds r of f to h and returns how many bytes of it f had.
func hashRange(h *blake3.Hasher, f *os.File, r fsmeta.Range, buf []byte, each func(int) error) (int64, error) {
	var n int64
	for n < r.Len {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), r.Len-n)], r.Off+n)
		_, _ = h.Write(buf[:k])
		n += int64(k)
		if each != nil && k > 0 {
			if err := each(k); err != nil {
				return n, err
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("hash %s: %w", f.Name(), err)
		}
	}
	return n, nil
}
