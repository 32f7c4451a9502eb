package fsroot

import "errors"

// ensureAttempts bounds the retries when another goroutine or process
// changes a component between our open and mkdir.
const ensureAttempts = 4

// EnsureParents makes every ancestor of path a real directory. A missing
// one is created with mode 0755 (its record sets the real mode later);
// a file or symlink in the way is removed first, since the source says a
// directory is there. This defeats symlinked parents even when they point
// inside the root. path itself is not touched.
func (r *Root) EnsureParents(path string) error {
	p, err := r.openParent("ensure parents", path, true)
	if err != nil {
		return err
	}
	p.close()
	return nil
}

// physicalParents reports whether every ancestor of path is a real
// directory, so that path names the object the source means and not one
// reached through a symlink.
func (r *Root) physicalParents(path string) (bool, error) {
	p, err := r.openParent("lstat", path, false)
	if isNotExist(err) || errors.Is(err, ErrNotDir) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.close()
	return true, nil
}
