package source

import (
	"errors"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// clones makes clones of files being read where the file system can:
// FICLONE shares the file's blocks with a new, unnamed file (O_TMPFILE:
// nothing appears in the tree, the directory does not change) at once,
// under the file's lock, so the clone holds the content between two
// writes, and nobody writes to it. XFS and btrfs make them; a file system
// that cannot (ext4, tmpfs, ZFS before 2.2) is remembered and not asked
// again.
type clones struct {
	mu   sync.Mutex
	none map[uint64]bool // devices that make no clones
}

// clone returns a clone of f made in dir (a directory of the same file
// system), nil if none could be made.
func (c *clones) clone(f *os.File, dir string, log *slog.Logger) *os.File {
	dev, ok := deviceOf(f)
	if !ok || c.refused(dev) {
		return nil
	}
	tmp, err := c.make(f, dir)
	if err != nil && !cannotClone(err) {
		log.Debug("cannot clone a file that keeps changing", "dir", dir, "err", err)
		return nil
	}
	if err != nil {
		c.mu.Lock()
		if c.none == nil {
			c.none = make(map[uint64]bool)
		}
		c.none[dev] = true
		c.mu.Unlock()
		log.Debug("the file system makes no clones; files that keep changing are read without them", "dir", dir, "err", err)
		return nil
	}
	return tmp
}

func (c *clones) refused(dev uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.none[dev]
}

func (c *clones) make(f *os.File, dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	tmp := os.NewFile(uintptr(fd), dir+"/(clone)")
	raw, err := f.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(src uintptr) { err = unix.IoctlFileClone(fd, int(src)) })
		err = errors.Join(err, cerr)
	}
	if err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}

// cannotClone reports whether err says the file system makes no clones
// (or no unnamed files, or none this process may make), rather than that
// this one failed.
func cannotClone(err error) bool {
	// EROFS, EACCES, EPERM: the source may not create files here (a
	// read-only mount, a sandboxed service that only reads its tree).
	for _, e := range []error{unix.EOPNOTSUPP, unix.ENOTSUP, unix.EXDEV, unix.EINVAL, unix.ENOTTY, unix.EISDIR, unix.ENOSYS,
		unix.EROFS, unix.EACCES, unix.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func deviceOf(f *os.File) (uint64, bool) {
	var st unix.Stat_t
	raw, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	cerr := raw.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	if err != nil || cerr != nil {
		return 0, false
	}
	return st.Dev, true
}
