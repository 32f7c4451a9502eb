package fsroot

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

// procFD reports whether /proc/self/fd names open descriptors (Linux with
// /proc mounted): a path through it reaches a directory by its descriptor,
// not by walking names an intruder could swap for symlinks.
var procFD = sync.OnceValue(func() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// osPathAt is a path for system calls that take one (owners, extended
// attributes, ACLs) naming name in the directory open as fd, whose path in
// the root is dir.
func (r *Root) osPathAt(fd int, dir, name string) string {
	if procFD() {
		return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name
	}
	return filepath.Join(r.path, filepath.FromSlash(join(dir, name)))
}

// WithOSPath calls fn with a path for system calls that take one (owners,
// extended attributes, ACLs; none of them may follow a symlink at the
// last component) naming path in the root. Every ancestor of path is
// checked to be a real directory, and where the platform allows, the path
// reaches the parent through its open descriptor, so that a parent
// replaced by a symlink cannot redirect the call outside the root.
func (r *Root) WithOSPath(path string, fn func(osPath string) error) error {
	if path == wire.RootPath {
		return fn(r.path) // the root itself, as the replica was given it
	}
	p, err := r.openParent("set attributes of", path, false)
	if err != nil {
		return err
	}
	defer p.close()
	return fn(r.osPathAt(p.fd, p.dir, p.name))
}

// WithOSPath calls fn with a path naming the temp file, as Root.WithOSPath
// does, before it is committed.
func (t *Temp) WithOSPath(fn func(osPath string) error) error {
	if t.f == nil {
		return &PathError{Op: "set attributes of", Path: t.target, Err: errTempDone}
	}
	return fn(t.r.osPathAt(t.dir.fd, t.dir.dir, t.base))
}

// SetRootMeta sets the mode and mtime of the root directory itself.
func (r *Root) SetRootMeta(mode fs.FileMode, mtime time.Time) error {
	fi, err := os.Stat(r.path)
	if err != nil {
		return wrap("lstat", ".", err)
	}
	if Perm(fi.Mode()) != mode {
		if err := os.Chmod(r.path, mode); err != nil {
			return wrap("chmod", ".", err)
		}
	}
	if fi.ModTime().Equal(mtime) {
		return nil
	}
	return wrap("set time of", ".", os.Chtimes(r.path, mtime, mtime))
}
