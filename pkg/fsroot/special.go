package fsroot

import (
	"errors"
	"io/fs"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"golang.org/x/sys/unix"
)

// Kinds of special file Mknod makes.
const (
	Fifo     = unix.S_IFIFO
	CharDev  = unix.S_IFCHR
	BlockDev = unix.S_IFBLK
)

// ErrMknodNotPermitted reports that the process may not make a device
// node (it is not root); the caller counts it and goes on.
var ErrMknodNotPermitted = errors.New("not permitted to make device nodes")

// MknodNoSync makes path a FIFO or device node of kind (Fifo, CharDev,
// BlockDev) with mode, device number rdev and mtime: made under a temp
// name beside path, then renamed over it (a directory there is removed
// first). The parent is not synced (see Temp.CommitNoSync).
func (r *Root) MknodNoSync(path string, kind uint32, mode fs.FileMode, rdev uint64, mtime time.Time) error {
	dir, err := r.openParent("mknod", path, true)
	if err != nil {
		return err
	}
	defer dir.close()
	tmp, err := makeTemp(func(tmp string) error { return mknodat(dir.fd, tmp, kind|0o600, rdev) })
	if errors.Is(err, unix.EPERM) {
		return &PathError{Op: "mknod", Path: path, Err: ErrMknodNotPermitted}
	}
	if err != nil {
		return wrap("mknod", path, err)
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	err = unix.Fchmodat(dir.fd, tmp, wire.ModeBits(mode), 0)
	if err == nil {
		err = unix.UtimesNanoAt(dir.fd, tmp, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		err = wrap("mknod", path, err)
	} else {
		err = r.renameOver(dir, tmp, path)
	}
	if err != nil {
		unix.Unlinkat(dir.fd, tmp, 0)
	}
	return err
}
