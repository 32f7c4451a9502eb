package fsroot

import (
	"errors"
	"io/fs"
	"syscall"
	"time"
)

// Mkdir makes path a directory with mode: it creates it when missing,
// replaces a non-directory there, and otherwise only fixes the mode.
func (r *Root) Mkdir(path string, mode fs.FileMode) error {
	if err := r.EnsureParents(path); err != nil {
		return err
	}
	fi, err := r.root.Lstat(path)
	switch {
	case err == nil && fi.IsDir():
		if Perm(fi.Mode()) == mode {
			return nil
		}
		return wrap("chmod", path, r.root.Chmod(path, mode))
	case err == nil:
		if err := r.root.RemoveAll(path); err != nil {
			return wrap("remove", path, err)
		}
	case !isNotExist(err):
		return wrap("lstat", path, err)
	}
	err = r.root.Mkdir(path, mode.Perm())
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return wrap("mkdir", path, err)
	}
	// The umask trimmed the mode, and mkdir ignores the special bits.
	return wrap("chmod", path, r.root.Chmod(path, mode))
}

// SetMeta sets the mode and mtime of path. For a symlink only the mtime is
// set, on the link itself.
func (r *Root) SetMeta(path string, mode fs.FileMode, mtime time.Time) error {
	fi, err := r.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return r.setLinkTime(path, mtime)
	}
	if err := r.root.Chmod(path, mode); err != nil {
		return wrap("chmod", path, err)
	}
	return wrap("set time of", path, r.root.Chtimes(path, mtime, mtime))
}

// RemoveAll removes path and everything beneath it. A missing path is not
// an error, nor is one whose parents are not all real directories: the
// path the source deleted does not exist here then, and following a
// symlinked parent would delete something else.
func (r *Root) RemoveAll(path string) error {
	if err := check("remove", path); err != nil {
		return err
	}
	ok, err := r.physicalParents(path)
	if !ok || err != nil {
		return err
	}
	return wrap("remove", path, r.root.RemoveAll(path))
}

// SyncDir makes a directory's entries durable; "" is the root.
func (r *Root) SyncDir(path string) error {
	if path != "" {
		if err := check("sync", path); err != nil {
			return err
		}
	}
	f, err := r.openDir(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if dirSyncUnsupported(err) {
		return nil
	}
	return wrap("sync", path, err)
}

// dirSyncUnsupported reports errors some filesystems return for fsync on a
// directory; there is nothing more we can do on those.
func dirSyncUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
