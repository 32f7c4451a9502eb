package apply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/wire"
)

func (a *Applier) applyFile(ctx context.Context, rec *wire.Record) (Result, error) {
	tgt, fi, err := a.Root.OpenTarget(rec.Path)
	if err != nil {
		return Result{}, err
	}
	defer tgt.Close()
	fi, same, err := a.sameContent(rec, fi)
	if err != nil {
		return Result{}, err
	}
	if same {
		changed, err := a.fixMeta(rec, fi)
		chunks := rec.Chunks
		if rec.Data != nil {
			chunks = inlineChunks(rec)
		}
		return Result{Changed: changed, Chunks: chunks}, err
	}
	if rec.Data != nil {
		return a.writeInline(rec, tgt)
	}
	return a.writeFile(ctx, rec, tgt)
}

// sameContent reports whether path, which lstat'ed as fi (nil: nothing
// there), already is a regular file with rec's size and hash. Reading
// errors other than absence are returned: a file we cannot read is one we
// could not verify either.
func (a *Applier) sameContent(rec *wire.Record, fi fs.FileInfo) (fs.FileInfo, bool, error) {
	if fi == nil || !fi.Mode().IsRegular() || fi.Size() != rec.Size {
		return nil, false, nil
	}
	if rec.HasAttrs() && rec.Link == "" && fsstat.Links(fi) > 1 {
		// Another name shares this file here, not at the source: the link
		// is broken by writing a file of its own.
		return nil, false, nil
	}
	if a.Known != nil {
		if h, ok := a.Known(rec.Path, fi); ok {
			return fi, h == rec.Hash, nil
		}
	}
	h, n, err := a.HashFile(rec.Path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fsroot.ErrNotRegular) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return fi, n == rec.Size && h == rec.Hash, nil
}

// fixMeta sets owner, attributes, mode and mtime where they differ from
// rec (in that order: a chown clears setuid and setgid).
func (a *Applier) fixMeta(rec *wire.Record, fi fs.FileInfo) (bool, error) {
	changed, err := a.applyAttrs(rec)
	if err != nil {
		return changed, err
	}
	if changed {
		if fi, err = a.Root.Lstat(rec.Path); err != nil {
			return true, err
		}
	}
	mode, mtime := wire.FileMode(rec.Mode), time.Unix(0, rec.MTime)
	if fsroot.Perm(fi.Mode()) == mode && fi.ModTime().Equal(mtime) {
		return changed, nil
	}
	return true, a.Root.SetMeta(rec.Path, mode, mtime)
}

// writeFile assembles the content in a temp file and commits it only when
// the whole stream matches rec.Hash. A manifest's chunk list is read a
// blob at a time as the file is written, and Placed told of it once the
// file is committed.
func (a *Applier) writeFile(ctx context.Context, rec *wire.Record, tgt *fsroot.Target) (Result, error) {
	var res Result
	if len(rec.Manifest) == 0 {
		res.Chunks = rec.Chunks
	}
	tmp, err := tgt.CreateTemp()
	if err != nil {
		return res, err
	}
	defer tmp.Abort()
	placed, err := a.newPlacedList(rec)
	if err != nil {
		return res, err
	}
	defer placed.close()
	src := a.newSource(ctx, rec, &res)
	defer src.close()
	h := chunk.NewHasher()
	defer h.Stop()
	out := newDataWriter(tmp, h, rec)
	for {
		r, err := src.next(ctx)
		if err != nil {
			return res, err
		}
		if r.end {
			break
		}
		if err := out.write(r.data); err != nil {
			return res, err
		}
		if r.seg != nil {
			if err := placed.add(r.seg.refs); err != nil {
				return res, err
			}
		}
	}
	if err := a.commitTemp(tmp, out, h, rec); err != nil {
		return res, err
	}
	placed.tell(rec.Path)
	res = dirOf(res, rec.Path)
	res.Changed = true
	res.Info = tmp.Info()
	return res, nil
}

// writeInline writes a small file whose content came in its record,
// verified against the record's hash (a sparse file's is of its data
// only, so the whole file's hash is checked as it is written).
func (a *Applier) writeInline(rec *wire.Record, tgt *fsroot.Target) (Result, error) {
	var data []byte
	var err error
	if rec.Extents != nil {
		data, err = wire.DecodeChunkUnverified(nil, rec.Data) // verified below
	} else {
		data, err = wire.DecodeChunk(nil, rec.Data, rec.Hash)
	}
	if err != nil {
		return Result{}, &fsroot.PathError{Op: "decode content of", Path: rec.Path, Err: err}
	}
	if int64(len(data)) != rec.DataLen() {
		return Result{}, &fsroot.PathError{Op: "decode content of", Path: rec.Path,
			Err: fmt.Errorf("%w: %d bytes, record says %d", wire.ErrCorrupt, len(data), rec.DataLen())}
	}
	res := Result{Fetched: int64(len(data)), Chunks: inlineChunks(rec)}
	tmp, err := tgt.CreateTemp()
	if err != nil {
		return res, err
	}
	defer tmp.Abort()
	h := chunk.NewHasher()
	defer h.Stop()
	out := newDataWriter(tmp, h, rec)
	if err := out.write(data); err != nil {
		return res, err
	}
	if err := a.commitTemp(tmp, out, h, rec); err != nil {
		return res, err
	}
	res = dirOf(res, rec.Path)
	res.Changed = true
	res.Info = tmp.Info()
	return res, nil
}

// inlineChunks describes inline content as one chunk, so that later files
// can reuse it from the local copy; none for a sparse file, whose hash is
// not that of the data it carries.
func inlineChunks(rec *wire.Record) []wire.ChunkRef {
	if rec.Extents != nil {
		return nil
	}
	return []wire.ChunkRef{{Hash: rec.Hash, Size: uint32(rec.Size)}}
}

// HashFile returns the BLAKE3 hash and length of the regular file at
// path. Only its data is read: holes hash as zeros.
func (a *Applier) HashFile(path string) (wire.Hash, int64, error) {
	f, err := a.Root.Open(path)
	if err != nil {
		return wire.Hash{}, 0, err
	}
	defer f.Close()
	buf := getBuf(chunk.MaxSize)
	defer putBuf(buf)
	h, n, err := chunk.HashFile(f, *buf, nil)
	if err != nil {
		return wire.Hash{}, n, &fsroot.PathError{Op: "hash", Path: path, Err: err}
	}
	return h, n, nil
}

// commitTemp finishes a temp file written through out and hashed by h:
// the whole file must hash to rec.Hash; then it gets rec's attributes,
// mode and mtime, and is renamed over rec.Path.
func (a *Applier) commitTemp(tmp *fsroot.Temp, out *dataWriter, h *chunk.Hasher, rec *wire.Record) error {
	if err := out.finish(); err != nil {
		return err
	}
	if got, _ := h.Sum(); got != rec.Hash {
		return &fsroot.PathError{Op: "verify", Path: rec.Path,
			Err: fmt.Errorf("%w: content hashes to %s, record says %s", wire.ErrCorrupt, got, rec.Hash)}
	}
	if err := a.applyTempAttrs(tmp, rec); err != nil {
		return err
	}
	return tmp.CommitNoSync(wire.FileMode(rec.Mode), time.Unix(0, rec.MTime))
}
