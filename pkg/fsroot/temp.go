package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

// tempAttempts bounds the retries on a temp name collision.
const tempAttempts = 8

var errTempDone = errors.New("temp file already committed or aborted")

// Temp is a file being written in the directory of its target. It becomes
// visible under the target's name only by Commit. A Temp is used by one
// goroutine.
type Temp struct {
	r         *Root
	f         *os.File
	name      string // path of the temp file
	target    string
	committed bool
}

// CreateTemp makes the parents of path real directories and creates a
// fresh, empty temp file (mode 0600) next to it.
func (r *Root) CreateTemp(path string) (*Temp, error) {
	if err := r.EnsureParents(path); err != nil {
		return nil, err
	}
	dir := wire.Parent(path)
	for range tempAttempts {
		name := tempName(dir)
		f, err := r.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return &Temp{r: r, f: f, name: name, target: path}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, wrap("create temp for", path, err)
		}
	}
	return nil, &PathError{Op: "create temp for", Path: path, Err: fs.ErrExist}
}

func tempName(dir string) string {
	return join(dir, fmt.Sprintf("%s%016x", TempPrefix, rand.Uint64()))
}

// Name is the temp file's path in the root.
func (t *Temp) Name() string { return t.name }

// Write appends p to the temp file.
func (t *Temp) Write(p []byte) (int, error) {
	if t.f == nil {
		return 0, &PathError{Op: "write", Path: t.target, Err: errTempDone}
	}
	n, err := t.f.Write(p)
	return n, wrap("write", t.target, err)
}

// ReadFrom appends everything src yields to the temp file.
func (t *Temp) ReadFrom(src io.Reader) (int64, error) {
	if t.f == nil {
		return 0, &PathError{Op: "write", Path: t.target, Err: errTempDone}
	}
	n, err := t.f.ReadFrom(src)
	return n, wrap("write", t.target, err)
}

// Commit gives the temp file mode and mtime, makes it durable and renames
// it over the target, replacing a directory there, then syncs the parent
// directory. On failure before the rename the temp file is removed and the
// old target is left as it was.
func (t *Temp) Commit(mode fs.FileMode, mtime time.Time) error {
	if t.f == nil {
		return &PathError{Op: "commit", Path: t.target, Err: errTempDone}
	}
	if err := t.finish(mode, mtime); err != nil {
		t.Abort()
		return err
	}
	if err := t.r.replace(t.name, t.target); err != nil {
		t.Abort()
		return err
	}
	t.committed = true
	return t.r.SyncDir(wire.Parent(t.target))
}

// finish sets the metadata before the fsync so that it is durable with the
// content, then closes the file.
func (t *Temp) finish(mode fs.FileMode, mtime time.Time) error {
	f := t.f
	t.f = nil
	err := f.Chmod(mode)
	if err == nil {
		err = t.r.root.Chtimes(t.name, mtime, mtime)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return wrap("commit", t.target, err)
}

// Abort discards the temp file. It is idempotent and does nothing after a
// successful Commit.
func (t *Temp) Abort() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	if !t.committed && t.name != "" {
		t.r.root.Remove(t.name)
		t.name = ""
	}
}

// replace renames tmp over path. A directory at path is removed first: the
// record changed its type, and rename cannot replace a directory by a file.
func (r *Root) replace(tmp, path string) error {
	fi, err := r.root.Lstat(path)
	if err == nil && fi.IsDir() {
		if err := r.root.RemoveAll(path); err != nil {
			return wrap("remove", path, err)
		}
	}
	return wrap("rename into", path, r.root.Rename(tmp, path))
}
