package apply

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// placedRefLen is the size of one ref in a placedList: hash, then size
// as four bytes.
const placedRefLen = 32 + 4

// placedList keeps the chunk list of a file being written from manifest
// blobs in a temp file next to it, a blob at a time as the file is
// written, so that Placed is told of it once the file is committed
// without the list ever being held whole. Telling Placed of each blob as
// it is written would make the index point at content the path does not
// hold yet, or never will if the apply fails, replacing locations that
// are good. The cost is 36 bytes of disk per chunk, for the apply's
// duration.
type placedList struct {
	a   *Applier
	tmp *fsroot.Temp
	ext []wire.Extent // a sparse file's extents, where its chunks lie
	buf []byte
}

// newPlacedList starts a placedList for rec; nil when there is no Placed
// to tell, or no manifest (Result.Chunks carries an inline list).
func (a *Applier) newPlacedList(rec *wire.Record) (*placedList, error) {
	if a.Placed == nil || len(rec.Manifest) == 0 {
		return nil, nil
	}
	tmp, err := a.Root.CreateTemp(rec.Path)
	if err != nil {
		return nil, err
	}
	return &placedList{a: a, tmp: tmp, ext: rec.Extents}, nil
}

// add appends the refs of one segment, in the order of the file.
func (l *placedList) add(refs []wire.ChunkRef) error {
	if l == nil {
		return nil
	}
	l.buf = l.buf[:0]
	for _, c := range refs {
		l.buf = binary.LittleEndian.AppendUint32(append(l.buf, c.Hash[:]...), c.Size)
	}
	_, err := l.tmp.Write(l.buf)
	return err
}

// tell calls Placed with the list, a blob's worth of refs at a time (a
// sparse file's cut where its extents end), for the file now committed at
// path. A failure to read it back only costs
// the index those locations.
func (l *placedList) tell(path string) {
	if l == nil {
		return
	}
	f, err := l.a.Root.Open(l.tmp.Name())
	if err != nil {
		l.a.log().Warn("read back chunk list", "path", path, "err", err)
		return
	}
	defer f.Close()
	buf := make([]byte, wire.ManifestBlobChunks*placedRefLen)
	refs := make([]wire.ChunkRef, 0, wire.ManifestBlobChunks)
	var off int64
	for {
		n, err := io.ReadFull(f, buf)
		refs = refs[:0]
		for b := buf[:n-n%placedRefLen]; len(b) > 0; b = b[placedRefLen:] {
			refs = append(refs, wire.ChunkRef{Hash: wire.Hash(b[:32]), Size: binary.LittleEndian.Uint32(b[32:])})
		}
		wire.PlaceChunks(l.ext, off, refs, func(at int64, run []wire.ChunkRef) { l.a.Placed(path, at, run) })
		off += sumSizes(refs)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return
		}
		if err != nil {
			l.a.log().Warn("read back chunk list", "path", path, "err", err)
			return
		}
	}
}

// close removes the temp file.
func (l *placedList) close() {
	if l != nil {
		l.tmp.Abort()
	}
}
