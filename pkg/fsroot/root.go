package fsroot

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jetsync/jetsync/pkg/wire"
	"golang.org/x/sys/unix"
)

// IsTemp reports whether the base name of path marks a jetsync temp file.
func IsTemp(path string) bool {
	return strings.HasPrefix(base(path), wire.TempPrefix)
}

// Root is a replica's folder root. It is safe for concurrent use; callers
// order operations on a path and its ancestors themselves.
type Root struct {
	root *os.Root
	fd   int // the root directory, for walks that follow no symlink (see openParent)
	path string
}

// Open opens the directory dir as a Root.
func Open(dir string) (*Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	fd, err := openRootFD(dir)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &Root{root: r, fd: fd, path: filepath.Clean(dir)}, nil
}

// Close releases the root directory.
func (r *Root) Close() error {
	unix.Close(r.fd)
	return r.root.Close()
}

// Path is the directory the root was opened on, for messages.
func (r *Root) Path() string { return r.path }

// Lstat describes path without following a final symlink.
func (r *Root) Lstat(path string) (fs.FileInfo, error) {
	if err := check("lstat", path); err != nil {
		return nil, err
	}
	fi, err := r.root.Lstat(path)
	return fi, wrap("lstat", path, err)
}

// Readlink returns the target of the symlink at path.
func (r *Root) Readlink(path string) (string, error) {
	if err := check("readlink", path); err != nil {
		return "", err
	}
	t, err := r.root.Readlink(path)
	return t, wrap("readlink", path, err)
}

// Open opens the regular file at path for reading. Anything else there,
// a symlink included, is refused with ErrNotRegular.
func (r *Root) Open(path string) (*os.File, error) {
	if err := check("open", path); err != nil {
		return nil, err
	}
	// O_NONBLOCK keeps a FIFO swapped in after the Lstat from blocking us;
	// the identity check then refuses it.
	return r.openVerified(path, syscall.O_RDONLY|syscall.O_NONBLOCK, false)
}

// openDir opens a directory ("" is the root) for reading its entries or
// syncing it, refusing a symlink in its place.
func (r *Root) openDir(path string) (*os.File, error) {
	return r.openVerified(path, syscall.O_RDONLY|unix.O_DIRECTORY, true)
}

// openVerified opens path and checks that what it opened is the object
// Lstat saw, of the wanted kind. os.Root follows a final symlink on open;
// comparing identities gives O_NOFOLLOW semantics.
func (r *Root) openVerified(path string, flag int, dir bool) (*os.File, error) {
	name := osName(path)
	before, err := r.root.Lstat(name)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	if err := kindCheck(before, dir); err != nil {
		return nil, &PathError{Op: "open", Path: path, Err: err}
	}
	f, err := r.root.OpenFile(name, flag, 0)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	after, err := f.Stat()
	if err == nil && !os.SameFile(before, after) {
		err = kindCheck(nil, dir)
	}
	if err != nil {
		f.Close()
		return nil, wrap("open", path, err)
	}
	return f, nil
}

// kindCheck returns the error for fi not being a directory (dir) or a
// regular file; a nil fi always fails.
func kindCheck(fi fs.FileInfo, dir bool) error {
	switch {
	case dir && (fi == nil || !fi.IsDir()):
		return ErrNotDir
	case !dir && (fi == nil || !fi.Mode().IsRegular()):
		return ErrNotRegular
	}
	return nil
}

// check validates a path before it reaches any system call.
func check(op, path string) error {
	if err := wire.ValidPath(path); err != nil {
		return &PathError{Op: op, Path: path, Err: err}
	}
	return nil
}

// osName maps the root's own path "" to the name os.Root uses for it.
func osName(path string) string {
	if path == "" {
		return "."
	}
	return path
}

// join appends a name to a directory path, "" being the root.
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func base(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// Perm keeps the bits of m that FileMode produces, for comparing a file's
// mode with a record's.
func Perm(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
