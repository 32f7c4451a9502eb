package fsroot

import (
	"errors"
	"io/fs"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"golang.org/x/sys/unix"
)

// Symlink atomically makes path a symlink to target with the given mtime:
// the link is made under a temp name in the same directory, timed, then
// renamed over path (a directory there is removed first). The target is
// stored as is and never followed; it may be absolute or climb with "..".
func (r *Root) Symlink(target, path string, mtime time.Time) error {
	if err := wire.ValidTarget(target); err != nil {
		return &PathError{Op: "symlink", Path: path, Err: err}
	}
	if err := r.EnsureParents(path); err != nil {
		return err
	}
	tmp, err := r.symlinkTemp(target, path)
	if err != nil {
		return err
	}
	err = r.setLinkTime(tmp, mtime)
	if err == nil {
		err = r.replace(tmp, path)
	}
	if err != nil {
		r.root.Remove(tmp)
		return err
	}
	return r.SyncDir(wire.Parent(path))
}

func (r *Root) symlinkTemp(target, path string) (string, error) {
	var err error
	for range tempAttempts {
		tmp := tempName(wire.Parent(path))
		err = r.root.Symlink(target, tmp)
		if err == nil {
			return tmp, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return "", wrap("symlink", path, err)
}

// setLinkTime sets the times of the symlink at path itself. os.Root has no
// call for this, so it goes through the parent directory's descriptor.
func (r *Root) setLinkTime(path string, mtime time.Time) error {
	dir, err := r.openDir(wire.Parent(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	conn, err := dir.SyscallConn()
	if err != nil {
		return wrap("set time of", path, err)
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	var serr error
	err = conn.Control(func(fd uintptr) {
		serr = unix.UtimesNanoAt(int(fd), base(path), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err == nil {
		err = serr
	}
	return wrap("set time of", path, err)
}
