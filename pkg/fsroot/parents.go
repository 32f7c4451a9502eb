package fsroot

import (
	"errors"
	"io/fs"
)

// ensureAttempts bounds the retries when another goroutine or process
// changes a component between our Lstat and Mkdir.
const ensureAttempts = 4

// EnsureParents makes every ancestor of path a real directory. A missing
// one is created with mode 0755 (its record sets the real mode later);
// a file or symlink in the way is removed first, since the source says a
// directory is there. This defeats symlinked parents even when they point
// inside the root. path itself is not touched.
func (r *Root) EnsureParents(path string) error {
	if err := check("ensure parents", path); err != nil {
		return err
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		if err := r.ensureDir(path[:i]); err != nil {
			return err
		}
	}
	return nil
}

// ensureDir makes dir a directory, its own parents being directories.
func (r *Root) ensureDir(dir string) error {
	for range ensureAttempts {
		fi, err := r.root.Lstat(dir)
		switch {
		case err == nil && fi.IsDir():
			return nil
		case err == nil:
			err = r.root.Remove(dir)
			if err != nil && !isNotExist(err) {
				return wrap("remove", dir, err)
			}
		case !isNotExist(err):
			return wrap("lstat", dir, err)
		}
		err = r.root.Mkdir(dir, 0o755)
		if !errors.Is(err, fs.ErrExist) {
			return wrap("mkdir", dir, err)
		}
	}
	return &PathError{Op: "mkdir", Path: dir, Err: errors.New("keeps changing under us")}
}

// physicalParents reports whether every ancestor of path is a real
// directory, so that path names the object the source means and not one
// reached through a symlink.
func (r *Root) physicalParents(path string) (bool, error) {
	for i := 0; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		fi, err := r.root.Lstat(path[:i])
		if isNotExist(err) || (err == nil && !fi.IsDir()) {
			return false, nil
		}
		if err != nil {
			return false, wrap("lstat", path[:i], err)
		}
	}
	return true, nil
}
