package fsroot

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/jetsync/jetsync/pkg/wire"
)

// A parent is the open directory that holds a path's final component,
// reached from the root one component at a time without following any
// symlink. Operations on the final component go through its descriptor,
// so a path costs one walk instead of one per call.
type parent struct {
	fd   int
	dir  string // the directory's path in the root, "" for the root
	name string // the final component
}

func (p *parent) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// openParent opens the directory holding path. With ensure set every
// ancestor is made a real directory on the way, as EnsureParents
// describes; without it a missing ancestor or one that is not a real
// directory fails with an error satisfying isNotExist or ErrNotDir.
func (r *Root) openParent(op, path string, ensure bool) (*parent, error) {
	if err := check(op, path); err != nil {
		return nil, err
	}
	dir := wire.Parent(path)
	if dir == "" {
		fd, err := dupFD(r.fd)
		if err != nil {
			return nil, wrap(op, path, err)
		}
		return &parent{fd: fd, name: path}, nil
	}
	fd, walked := r.fd, ""
	for comp := range strings.SplitSeq(dir, "/") {
		walked = join(walked, comp)
		next, err := r.stepDir(fd, walked, comp, ensure)
		if fd != r.fd {
			unix.Close(fd)
		}
		if err != nil {
			return nil, err
		}
		fd = next
	}
	return &parent{fd: fd, dir: dir, name: base(path)}, nil
}

// stepDir opens the directory comp inside the directory fd (whose path
// is walked minus comp), creating or replacing it when ensure is set.
func (r *Root) stepDir(fd int, walked, comp string, ensure bool) (int, error) {
	for range ensureAttempts {
		next, err := openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return next, nil
		case !ensure && isNotDirErr(err):
			return -1, &PathError{Op: "open", Path: walked, Err: ErrNotDir}
		case !ensure || !(errors.Is(err, unix.ENOENT) || isNotDirErr(err)):
			return -1, wrap("open", walked, err)
		case isNotDirErr(err): // a file or symlink where the source has a directory
			if err := unix.Unlinkat(fd, comp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				// Another applier may have replaced it with a directory
				// since our open (unlink then fails with EISDIR or EPERM).
				if next, oerr := openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); oerr == nil {
					return next, nil
				}
				return -1, wrap("remove", walked, err)
			}
		}
		if err := unix.Mkdirat(fd, comp, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, wrap("mkdir", walked, err)
		}
	}
	return -1, &PathError{Op: "mkdir", Path: walked, Err: errors.New("keeps changing under us")}
}

// isNotDirErr reports the errors an O_DIRECTORY|O_NOFOLLOW open gives for
// something that is not a real directory: ENOTDIR, and for a symlink
// ELOOP (Linux) or EMLINK (FreeBSD).
func isNotDirErr(err error) bool {
	return errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK)
}

// openat retries on EINTR, which network filesystems may return.
func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

func dupFD(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup root descriptor: %w", err)
	}
	return nfd, nil
}

// sync makes the directory's entries durable.
func (p *parent) sync() error {
	err := unix.Fsync(p.fd)
	if dirSyncUnsupported(err) {
		return nil
	}
	return err
}

// openRootFD opens the root directory's own descriptor.
func openRootFD(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}
