package treegen

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// SetLinkMtime sets the mtime (and atime) of the symlink at path itself,
// not of its target, as lutimes(3) does.
func SetLinkMtime(path string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("set symlink mtime %s: %w", path, err)
	}
	return nil
}
