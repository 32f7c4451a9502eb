package fsroot

import (
	"errors"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"golang.org/x/sys/unix"
)

// Symlink atomically makes path a symlink to target with the given mtime:
// the link is made under a temp name in the same directory, timed, then
// renamed over path (a directory there is removed first). The target is
// stored as is and never followed; it may be absolute or climb with "..".
func (r *Root) Symlink(target, path string, mtime time.Time) error {
	return r.symlink(target, path, mtime, true)
}

// SymlinkNoSync is Symlink without the sync of the parent directory (see
// Temp.CommitNoSync).
func (r *Root) SymlinkNoSync(target, path string, mtime time.Time) error {
	return r.symlink(target, path, mtime, false)
}

func (r *Root) symlink(target, path string, mtime time.Time, syncDir bool) error {
	if err := wire.ValidTarget(target); err != nil {
		return &PathError{Op: "symlink", Path: path, Err: err}
	}
	dir, err := r.openParent("symlink", path, true)
	if err != nil {
		return err
	}
	defer dir.close()
	tmp, err := symlinkTemp(dir, target)
	if err != nil {
		return wrap("symlink", path, err)
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	err = unix.UtimesNanoAt(dir.fd, tmp, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		err = wrap("set time of", path, err)
	} else {
		err = r.renameOver(dir, tmp, path)
	}
	if err != nil {
		unix.Unlinkat(dir.fd, tmp, 0)
		return err
	}
	if !syncDir {
		return nil
	}
	return wrap("sync", dir.dir, dir.sync())
}

// symlinkTemp makes a symlink to target under a fresh temp name in dir.
func symlinkTemp(dir *parent, target string) (string, error) {
	return makeTemp(func(tmp string) error { return unix.Symlinkat(target, dir.fd, tmp) })
}

// makeTemp calls mk with fresh temp names until one is not taken, and
// returns the name it made.
func makeTemp(mk func(tmp string) error) (string, error) {
	var err error
	for range tempAttempts {
		tmp := tempBase()
		err = mk(tmp)
		if err == nil {
			return tmp, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	return "", err
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
