package fsroot

import (
	"errors"

	"golang.org/x/sys/unix"
)

// HardLinkNoSync makes path another name of the regular file at existing:
// the link is made under a temp name beside path, then renamed over path
// (a directory there is removed first). Neither name may be reached
// through a symlinked parent, and existing must be a regular file. The
// parent of path is not synced (see Temp.CommitNoSync).
func (r *Root) HardLinkNoSync(existing, path string) error {
	src, err := r.openParent("link", existing, false)
	if err != nil {
		return err
	}
	defer src.close()
	var st unix.Stat_t
	if err := unix.Fstatat(src.fd, src.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return wrap("link", existing, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &PathError{Op: "link", Path: existing, Err: ErrNotRegular}
	}
	dir, err := r.openParent("link", path, true)
	if err != nil {
		return err
	}
	defer dir.close()
	tmp, err := makeTemp(func(tmp string) error { return unix.Linkat(src.fd, src.name, dir.fd, tmp, 0) })
	if err != nil {
		return wrap("link", path, err)
	}
	err = r.renameOver(dir, tmp, path)
	// A rename onto another name of the same file does nothing and leaves
	// the temp name: remove it whatever happened.
	if uerr := unix.Unlinkat(dir.fd, tmp, 0); uerr != nil && !errors.Is(uerr, unix.ENOENT) && err == nil {
		err = wrap("link", path, uerr)
	}
	return err
}
