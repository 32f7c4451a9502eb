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
	"golang.org/x/sys/unix"
)

// tempAttempts bounds the retries on a temp name collision.
const tempAttempts = 8

var errTempDone = errors.New("temp file already committed or aborted")

// Temp is a file being written in the directory of its target. It becomes
// visible under the target's name only by Commit. A Temp is used by one
// goroutine.
type Temp struct {
	r         *Root
	dir       *parent // the target's directory; dir.name is the target's name
	f         *os.File
	base      string // the temp file's name in dir
	target    string
	committed bool
	written   int64 // bytes written so far
	flushed   int64 // bytes handed to startWriteback so far
	info      fs.FileInfo
}

// writebackEvery is how many bytes a temp file accumulates before their
// writeback is started: small files never reach it, big ones stream to
// disk while they are assembled.
const writebackEvery = 8 << 20

// CreateTemp makes the parents of path real directories and creates a
// fresh, empty temp file (mode 0600) next to it.
func (r *Root) CreateTemp(path string) (*Temp, error) {
	dir, err := r.openParent("create temp for", path, true)
	if err != nil {
		return nil, err
	}
	return r.createTemp(dir, path)
}

// createTemp creates the temp file in dir, the open parent of path, which
// the Temp takes over (closed on failure too).
func (r *Root) createTemp(dir *parent, path string) (*Temp, error) {
	for range tempAttempts {
		name := tempBase()
		fd, err := openat(dir.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil {
			f := os.NewFile(uintptr(fd), join(dir.dir, name))
			return &Temp{r: r, dir: dir, f: f, base: name, target: path}, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			dir.close()
			return nil, wrap("create temp for", path, err)
		}
	}
	dir.close()
	return nil, &PathError{Op: "create temp for", Path: path, Err: fs.ErrExist}
}

func tempBase() string {
	return fmt.Sprintf("%s%016x", wire.TempPrefix, rand.Uint64())
}

// Name is the temp file's path in the root.
func (t *Temp) Name() string { return join(t.dir.dir, t.base) }

// Write appends p to the temp file.
func (t *Temp) Write(p []byte) (int, error) {
	if t.f == nil {
		return 0, &PathError{Op: "write", Path: t.target, Err: errTempDone}
	}
	n, err := t.f.Write(p)
	t.wrote(n)
	return n, wrap("write", t.target, err)
}

func (t *Temp) wrote(n int) {
	t.written += int64(n)
	if t.written-t.flushed >= writebackEvery {
		startWriteback(t.f.Fd(), t.flushed, t.written-t.flushed)
		t.flushed = t.written
	}
}

// Skip moves the write position n bytes on without writing: what is
// written next lands past a hole of n bytes, on file systems that keep
// holes. A hole at the end needs Truncate.
func (t *Temp) Skip(n int64) error {
	if t.f == nil {
		return &PathError{Op: "write", Path: t.target, Err: errTempDone}
	}
	if _, err := t.f.Seek(n, io.SeekCurrent); err != nil {
		return wrap("write", t.target, err)
	}
	if t.flushed == t.written {
		t.flushed += n // nothing to write back in a hole
	}
	t.written += n
	return nil
}

// Truncate sets the temp file's size: a file whose end is a hole gets
// its length without a byte written there.
func (t *Temp) Truncate(size int64) error {
	if t.f == nil {
		return &PathError{Op: "truncate", Path: t.target, Err: errTempDone}
	}
	return wrap("truncate", t.target, t.f.Truncate(size))
}

// ReadFrom appends everything src yields to the temp file.
func (t *Temp) ReadFrom(src io.Reader) (int64, error) {
	if t.f == nil {
		return 0, &PathError{Op: "write", Path: t.target, Err: errTempDone}
	}
	n, err := t.f.ReadFrom(src)
	t.written += n
	return n, wrap("write", t.target, err)
}

// Commit gives the temp file mode and mtime, makes it durable and renames
// it over the target, replacing a directory there, then syncs the parent
// directory. On failure before the rename the temp file is removed and the
// old target is left as it was.
func (t *Temp) Commit(mode fs.FileMode, mtime time.Time) error {
	return t.commit(mode, mtime, true)
}

// CommitNoSync is Commit without the sync of the parent directory: the
// rename is not durable until the caller syncs it (SyncDir), which lets it
// sync a directory once for many files.
func (t *Temp) CommitNoSync(mode fs.FileMode, mtime time.Time) error {
	return t.commit(mode, mtime, false)
}

func (t *Temp) commit(mode fs.FileMode, mtime time.Time, syncDir bool) error {
	if t.f == nil {
		return &PathError{Op: "commit", Path: t.target, Err: errTempDone}
	}
	if err := t.finish(mode, mtime); err != nil {
		t.Abort()
		return err
	}
	if err := t.replace(); err != nil {
		t.Abort()
		return err
	}
	t.committed = true
	// The file as it now stands under its name (the rename changed its
	// ctime), read through the descriptor rather than by a second walk
	// of the path; without it, Info is nil.
	t.info, _ = t.f.Stat()
	t.f.Close()
	t.f = nil
	defer t.dir.close()
	if !syncDir {
		return nil
	}
	return wrap("sync", t.dir.dir, t.dir.sync())
}

// Info describes the committed file, as fstat saw it right after the
// rename; nil before a commit or if that fstat failed.
func (t *Temp) Info() fs.FileInfo { return t.info }

// finish sets the metadata before the fsync so that it is durable with the
// content. The file stays open.
func (t *Temp) finish(mode fs.FileMode, mtime time.Time) error {
	f := t.f
	err := f.Chmod(mode)
	if err == nil {
		ts := unix.NsecToTimespec(mtime.UnixNano())
		err = unix.UtimesNanoAt(t.dir.fd, t.base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err == nil {
		err = f.Sync()
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
	if !t.committed && t.base != "" {
		unix.Unlinkat(t.dir.fd, t.base, 0)
		t.base = ""
	}
	t.dir.close()
}

// replace renames the temp file over the target.
func (t *Temp) replace() error { return t.r.renameOver(t.dir, t.base, t.target) }

// renameOver renames tmp, in dir, over the final component of path. A
// directory there is removed first: the record changed its type, and
// rename cannot replace a directory by a file or symlink.
func (r *Root) renameOver(dir *parent, tmp, path string) error {
	var st unix.Stat_t
	err := unix.Fstatat(dir.fd, dir.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := r.root.RemoveAll(path); err != nil {
			return wrap("remove", path, err)
		}
	}
	return wrap("rename into", path, unix.Renameat(dir.fd, tmp, dir.fd, dir.name))
}
