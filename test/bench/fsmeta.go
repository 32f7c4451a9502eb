package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// setLinkMtime sets the mtime of a symlink itself, not of its target.
func setLinkMtime(p string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set symlink mtime %s: %w", p, err)
	}
	return nil
}
