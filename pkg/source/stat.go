package source

import (
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// racyWindow: a file whose ctime or mtime is this close to the time of its
// lstat may be modified again within the same timestamp tick (kernels stamp
// files from a coarse clock, 1-10 ms), which comparing stat data before and
// after a read could not see. Such a file is read again a little later.
var racyWindow = 15 * time.Millisecond

// statOf converts lstat data to what the index compares. Type is "" for
// file types jetsync does not replicate (sockets).
func statOf(fi fs.FileInfo) index.Stat {
	st := index.Stat{Mode: wire.ModeBits(fi.Mode()), MTime: fi.ModTime().UnixNano(), Size: fi.Size()}
	m := fi.Mode()
	switch {
	case m.IsRegular():
		st.Type = wire.File
	case fi.IsDir():
		st.Type = wire.Dir
	case m&fs.ModeSymlink != 0:
		st.Type = wire.Symlink
	case m&fs.ModeNamedPipe != 0:
		st.Type, st.Size = wire.Fifo, 0
	case m&fs.ModeCharDevice != 0:
		st.Type, st.Size = wire.CharDev, 0
	case m&fs.ModeDevice != 0:
		st.Type, st.Size = wire.BlockDev, 0
	}
	st.Ino, st.CTime = fsstat.IDs(fi)
	return st
}

// racy reports whether st, taken at or after t0, is too recent to detect a
// further change by its timestamps.
func racy(st index.Stat, t0 time.Time) bool {
	limit := t0.Add(-racyWindow).UnixNano()
	return st.MTime > limit || st.CTime > limit
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// isLoop matches opening a symlink with O_NOFOLLOW: ELOOP on Linux,
// EMLINK on FreeBSD.
func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) }
