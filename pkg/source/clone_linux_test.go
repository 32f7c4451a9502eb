package source

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// A source that may not create files in its tree (a read-only mount, a
// sandboxed service) makes no clones on that device: it is not asked
// again at every read of a changing file. Other failures are this
// clone's own.
func TestCannotClone(t *testing.T) {
	for _, e := range []unix.Errno{unix.EOPNOTSUPP, unix.EXDEV, unix.EROFS, unix.EACCES, unix.EPERM} {
		if !cannotClone(&os.PathError{Op: "open", Path: "dir", Err: e}) {
			t.Errorf("%v: not taken for a device without clones", e)
		}
	}
	for _, e := range []unix.Errno{unix.EIO, unix.ENOSPC, unix.EMFILE} {
		if cannotClone(&os.PathError{Op: "open", Path: "dir", Err: e}) {
			t.Errorf("%v: taken for a device without clones", e)
		}
	}
}
