package apply

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/zeebo/blake3"
)

// Resolve returns rec's chunk list, fetching and expanding its manifest
// blobs through Content when it has them. The list is checked to add up to
// rec.Size.
func (a *Applier) Resolve(ctx context.Context, rec *wire.Record) ([]wire.ChunkRef, error) {
	chunks, _, err := a.resolve(ctx, rec)
	return chunks, err
}

// resolve is Resolve that also counts the bytes fetched.
func (a *Applier) resolve(ctx context.Context, rec *wire.Record) ([]wire.ChunkRef, int64, error) {
	if len(rec.Manifest) == 0 {
		return rec.Chunks, 0, nil
	}
	var chunks []wire.ChunkRef
	var fetched, total int64
	for _, m := range rec.Manifest {
		blob, err := fetch(ctx, a.Content, Want{Rec: rec, Ref: m, Manifest: true})
		if err != nil {
			return nil, fetched, &fsroot.PathError{Op: "fetch manifest for", Path: rec.Path, Err: err}
		}
		fetched += int64(len(blob))
		n := len(chunks)
		if chunks, err = wire.DecodeManifest(chunks, blob); err != nil {
			return nil, fetched, &fsroot.PathError{Op: "decode manifest for", Path: rec.Path, Err: err}
		}
		total += sumSizes(chunks[n:])
		// A list longer than the file is garbage; stop before it can make
		// us hold an unbounded one.
		if total > rec.Size {
			return nil, fetched, sizeMismatch(rec, total)
		}
	}
	if total != rec.Size {
		return nil, fetched, sizeMismatch(rec, total)
	}
	return chunks, fetched, nil
}

func sizeMismatch(rec *wire.Record, total int64) error {
	return &fsroot.PathError{Op: "resolve", Path: rec.Path,
		Err: fmt.Errorf("%w: manifest lists at least %d bytes, size is %d", wire.ErrMalformed, total, rec.Size)}
}

func sumSizes(cs []wire.ChunkRef) int64 {
	var n int64
	for _, c := range cs {
		n += int64(c.Size)
	}
	return n
}

// HashFile returns the BLAKE3 hash and length of the regular file at path.
func (a *Applier) HashFile(path string) (wire.Hash, int64, error) {
	f, err := a.Root.Open(path)
	if err != nil {
		return wire.Hash{}, 0, err
	}
	defer f.Close()
	buf := getBuf(chunk.MaxSize)
	defer putBuf(buf)
	h := blake3.New()
	var n int64
	for {
		k, err := f.Read(*buf)
		h.Write((*buf)[:k])
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return wire.Hash(h.Sum(nil)), n, nil
		}
		if err != nil {
			return wire.Hash{}, n, &fsroot.PathError{Op: "hash", Path: path, Err: err}
		}
	}
}
