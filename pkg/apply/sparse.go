package apply

import (
	"fmt"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// dataWriter writes a record's content bytes, in order, into a fresh temp
// file where they belong, and feeds the whole-file hash: one after the
// other for a dense file; for a sparse one at its extents' offsets,
// skipping the holes (left unwritten, hashed as zeros), with the file's
// size set at the end.
type dataWriter struct {
	tmp  *fsroot.Temp
	h    *chunk.Hasher
	rec  *wire.Record
	ext  []wire.Extent // what is left of the extents; nil for a dense file
	pos  int64         // file offset written up to
	into int64         // bytes of ext[0] written
}

func newDataWriter(tmp *fsroot.Temp, h *chunk.Hasher, rec *wire.Record) *dataWriter {
	return &dataWriter{tmp: tmp, h: h, rec: rec, ext: rec.Extents}
}

// write puts p, the next content bytes, in place.
func (w *dataWriter) write(p []byte) error {
	if w.rec.Extents == nil {
		w.h.Write(p)
		_, err := w.tmp.Write(p)
		return err
	}
	for len(p) > 0 {
		if len(w.ext) == 0 {
			return w.tooLong()
		}
		x := w.ext[0]
		if w.into == 0 && x.Off > w.pos {
			w.h.WriteZeros(x.Off - w.pos)
			if err := w.tmp.Skip(x.Off - w.pos); err != nil {
				return err
			}
			w.pos = x.Off
		}
		k := min(int64(len(p)), x.Len-w.into)
		w.h.Write(p[:k])
		if _, err := w.tmp.Write(p[:k]); err != nil {
			return err
		}
		p, w.pos, w.into = p[k:], w.pos+k, w.into+k
		if w.into == x.Len {
			w.ext, w.into = w.ext[1:], 0
		}
	}
	return nil
}

// finish hashes and sizes a sparse file's final hole. The content must
// have filled every extent.
func (w *dataWriter) finish() error {
	if w.rec.Extents == nil {
		return nil
	}
	if len(w.ext) > 0 {
		return &fsroot.PathError{Op: "write", Path: w.rec.Path,
			Err: fmt.Errorf("%w: content ends at %d, inside an extent", wire.ErrCorrupt, w.pos)}
	}
	w.h.WriteZeros(w.rec.Size - w.pos)
	return w.tmp.Truncate(w.rec.Size)
}

func (w *dataWriter) tooLong() error {
	return &fsroot.PathError{Op: "write", Path: w.rec.Path,
		Err: fmt.Errorf("%w: content goes on past the last extent", wire.ErrCorrupt)}
}
