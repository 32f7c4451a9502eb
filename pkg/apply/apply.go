package apply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Content fetches chunks and manifest blobs the replica does not have
// locally (from the broker's content cache or the source). The returned
// bytes are already verified against the wanted hash.
type Content interface {
	Chunk(ctx context.Context, w Want) ([]byte, error)
}

// BatchContent is Content that can also bring several chunks of one
// record in one round trip. Chunks returns, for each of refs, the
// verified content or nil where it could not bring it (the caller then
// asks Chunk for that one, which reports why).
type BatchContent interface {
	Content
	Chunks(ctx context.Context, rec *wire.Record, refs []wire.ChunkRef) [][]byte
}

// Want names one piece of content a record needs.
type Want struct {
	Rec      *wire.Record
	Ref      wire.ChunkRef
	Manifest bool // a manifest blob of Rec's chunk list, not a chunk of its content
}

// Local finds content the replica already has on disk. It may be stale:
// whatever it points to is verified by hash before use.
type Local interface {
	FindChunk(h wire.Hash) (path string, off int64, ok bool)
}

// ErrChunkMissing marks content that neither the cache nor the source has
// any more (the source's file changed since the record was published).
// Content implementations wrap it; Apply passes it up wrapped.
var ErrChunkMissing = errors.New("content gone from the source")

// ErrBadRecord marks a record that no retry can apply: it fails
// validation, or its manifest blobs (verified by hash, so they never
// change) do not decode or do not add up to its size. Such an error also
// wraps wire.ErrMalformed or wire.ErrBadPath; a malformed content reply
// does not make one, since asking again may bring good content.
var ErrBadRecord = errors.New("record cannot be applied")

// badRecordError is an error, wrapping wire.ErrMalformed or
// wire.ErrBadPath, that is ErrBadRecord too.
type badRecordError struct{ err error }

// badRecord marks err as ErrBadRecord, keeping its message and chain.
func badRecord(err error) error { return badRecordError{err} }

// Error is the marked error's message.
func (e badRecordError) Error() string { return e.err.Error() }

// Unwrap gives the marked error, for errors.Is and errors.As.
func (e badRecordError) Unwrap() error { return e.err }

// Is says the error is ErrBadRecord.
func (e badRecordError) Is(target error) bool { return target == ErrBadRecord }

// Applier applies records to a root. It is safe for concurrent use on
// different paths; the caller must not apply a path concurrently with one
// of its ancestors or descendants.
type Applier struct {
	Root    *fsroot.Root
	Content Content
	Local   Local        // may be nil
	Log     *slog.Logger // nil means slog.Default()
	// Known, if set, returns the content hash of the regular file at
	// path when the caller wrote it and fi shows it unchanged since; a
	// file whose hash is known is not read to compare it with a record.
	Known func(path string, fi fs.FileInfo) (wire.Hash, bool)
	// Placed, if set, is told where the chunks of a file whose list comes
	// in manifest blobs lie once the file is committed, a blob's worth at
	// a time: refs lie from off on in the file at path, contiguous (a
	// sparse file's are told a run per extent). (The list is never held
	// whole; it is kept on disk while the file is written.) refs must not
	// be kept after the call. A file with an inline list has it in
	// Result.Chunks instead.
	Placed func(path string, off int64, refs []wire.ChunkRef)
	// Attrs, if set, applies owners, extended attributes and ACLs of
	// version 4 records; nil leaves every path's own.
	Attrs *Attrs
}

// Result tells what applying one record did.
type Result struct {
	Changed bool  // something on disk was modified
	Fetched int64 // bytes obtained from Content, manifest blobs included
	Reused  int64 // bytes copied from local files
	// Chunks is the chunk list of a file with an inline list (or inline
	// content, as one chunk), written or unchanged; nil when the record
	// uses a manifest (Applier.Placed is told of a written one). A sparse
	// file's chunks lie where wire.PlaceChunks puts them by its extents.
	Chunks []wire.ChunkRef
	// SyncDirs are the directories whose entries the apply changed (a
	// file, symlink or directory created, replaced or removed in them; ""
	// is the root). Apply does not sync them: the change is durable only
	// once the caller has (fsroot.Root.SyncDir), which lets the caller
	// sync a directory once for many changes.
	SyncDirs []string
	// Info describes the file a write left at the path (read through the
	// written file's descriptor); nil when nothing was written, or for
	// other types. It spares the caller a second lstat.
	Info fs.FileInfo
	// RemovedDir: a tombstone removed a directory, with Removed entries
	// beneath it.
	RemovedDir bool
	Removed    int
}

// dirOf marks res as having changed the entries of path's parent.
func dirOf(res Result, path string) Result {
	res.SyncDirs = append(res.SyncDirs, wire.Parent(path))
	return res
}

// Apply makes rec.Path equal to rec. A directory gets its mode made owner
// writable and searchable and no mtime: children written later change
// both, so the caller calls SetDirMeta once they are applied.
func (a *Applier) Apply(ctx context.Context, rec *wire.Record) (Result, error) {
	if err := rec.Validate(); err != nil {
		return Result{}, &fsroot.PathError{Op: "apply", Path: rec.Path, Err: badRecord(err)}
	}
	if rec.Path == wire.RootPath {
		// The folder root's own record: its attributes now, its mode and
		// mtime once its entries are applied (SetDirMeta).
		changed, err := a.applyAttrs(rec)
		return Result{Changed: changed}, err
	}
	switch rec.Type {
	case wire.File:
		return a.applyFile(ctx, rec)
	case wire.Symlink:
		return a.applySymlink(rec)
	case wire.Dir:
		return a.applyDir(rec)
	case wire.Deleted:
		return a.applyDeleted(rec)
	case wire.Fifo, wire.CharDev, wire.BlockDev:
		return a.applySpecial(rec)
	}
	return Result{}, &fsroot.PathError{Op: "apply", Path: rec.Path,
		Err: badRecord(fmt.Errorf("%w: type %q", wire.ErrMalformed, rec.Type))}
}

func (a *Applier) applySymlink(rec *wire.Record) (Result, error) {
	fi, err := a.Root.EnsureParentsLstat(rec.Path)
	if err != nil {
		return Result{}, err
	}
	mtime := time.Unix(0, rec.MTime)
	if fi != nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, err := a.Root.Readlink(rec.Path)
		if err == nil && target == rec.Target {
			changed, err := a.applyAttrs(rec)
			if err != nil || fi.ModTime().Equal(mtime) {
				return Result{Changed: changed}, err
			}
			return Result{Changed: true}, a.Root.SetMeta(rec.Path, wire.FileMode(rec.Mode), mtime)
		}
	}
	res := dirOf(Result{Changed: true}, rec.Path)
	if err := a.Root.SymlinkNoSync(rec.Target, rec.Path, mtime); err != nil {
		return res, err
	}
	_, err = a.applyAttrs(rec)
	return res, err
}

func (a *Applier) applyDir(rec *wire.Record) (Result, error) {
	fi, err := a.Root.EnsureParentsLstat(rec.Path)
	if err != nil {
		return Result{}, err
	}
	mode := writable(wire.FileMode(rec.Mode))
	var res Result
	if fi == nil || !fi.IsDir() || fsroot.Perm(fi.Mode()) != mode {
		res = dirOf(Result{Changed: true}, rec.Path)
		if err := a.Root.Mkdir(rec.Path, mode); err != nil {
			return res, err
		}
	}
	changed, err := a.applyAttrs(rec)
	res.Changed = res.Changed || changed
	return res, err
}

// writable adds the owner bits needed to create and remove children; a
// read-only directory at the source gets its real mode from SetDirMeta.
func writable(m fs.FileMode) fs.FileMode { return m | 0o700 }

func (a *Applier) applyDeleted(rec *wire.Record) (Result, error) {
	fi, err := a.Root.Lstat(rec.Path)
	if err != nil {
		return Result{}, a.Root.RemoveAll(rec.Path) // gone, or unreachable: nothing of ours there
	}
	res := dirOf(Result{Changed: true}, rec.Path)
	if fi.IsDir() {
		res.RemovedDir = true
		if res.Removed, err = a.Root.CountTree(rec.Path); err != nil {
			return Result{}, err
		}
	}
	return res, a.Root.RemoveAll(rec.Path)
}

// SetDirMeta sets a directory's mode and mtime. The caller defers it until
// the directory's children are applied, since writing children changes a
// directory's mtime. A path that is no longer a directory is left alone: a
// later record changed it and owns its metadata.
func (a *Applier) SetDirMeta(path string, mode uint32, mtime int64) error {
	if path == wire.RootPath {
		return a.Root.SetRootMeta(wire.FileMode(mode), time.Unix(0, mtime))
	}
	fi, err := a.Root.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return err
	}
	m, t := wire.FileMode(mode), time.Unix(0, mtime)
	if fsroot.Perm(fi.Mode()) == m && fi.ModTime().Equal(t) {
		return nil
	}
	return a.Root.SetMeta(path, m, t)
}

func (a *Applier) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
