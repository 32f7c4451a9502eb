package apply

import (
	"context"
	"fmt"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// segment is a run of a file's chunk list: an inline list whole, or the
// refs of one manifest blob, with the offset in the file they start at.
type segment struct {
	off     int64
	refs    []wire.ChunkRef
	blobLen int64 // length of the manifest blob it came from; 0 for an inline list
}

// chunkList yields a file's chunk list a segment at a time, fetching and
// decoding a manifest's blobs one by one as they are wanted, so that a
// file is applied holding the refs of a blob or two however long its
// list. It checks the list against the record's size as it goes.
type chunkList struct {
	a    *Applier
	rec  *wire.Record
	next int   // segments returned so far
	off  int64 // bytes they list
}

// segment returns the next segment of the list, nil after the last. A
// blob that does not decode or takes the list past the record's size, or
// a list that ends short of it, is ErrBadRecord: found before a chunk of
// that blob is fetched, or once the last blob is read.
func (l *chunkList) segment(ctx context.Context) (*segment, error) {
	rec := l.rec
	if len(rec.Manifest) == 0 {
		if l.next > 0 {
			return nil, nil
		}
		l.next++
		return &segment{refs: rec.Chunks}, nil // Validate checked that they add up
	}
	if l.next == len(rec.Manifest) {
		if l.off != rec.DataLen() {
			return nil, sizeMismatch(rec, l.off)
		}
		return nil, nil
	}
	m := rec.Manifest[l.next]
	l.next++
	blob, err := fetch(ctx, l.a.Content, Want{Rec: rec, Ref: m, Manifest: true})
	if err != nil {
		return nil, &fsroot.PathError{Op: "fetch manifest for", Path: rec.Path, Err: err}
	}
	refs, err := wire.DecodeManifest(nil, blob)
	if err != nil {
		return nil, &fsroot.PathError{Op: "decode manifest for", Path: rec.Path, Err: badRecord(err)}
	}
	seg := &segment{off: l.off, refs: refs, blobLen: int64(len(blob))}
	l.off += sumSizes(refs)
	if l.off > rec.DataLen() {
		return nil, sizeMismatch(rec, l.off)
	}
	return seg, nil
}

// sizeMismatch is the error of a manifest that lists total bytes (or at
// least that many) for a file of rec.DataLen() bytes of data.
func sizeMismatch(rec *wire.Record, total int64) error {
	return &fsroot.PathError{Op: "check manifest of", Path: rec.Path, Err: badRecord(
		fmt.Errorf("%w: manifest lists at least %d bytes, data is %d", wire.ErrMalformed, total, rec.DataLen()))}
}

// sumSizes is how many bytes cs lists.
func sumSizes(cs []wire.ChunkRef) int64 {
	var n int64
	for _, c := range cs {
		n += int64(c.Size)
	}
	return n
}
