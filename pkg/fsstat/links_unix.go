//go:build unix

package fsstat

import (
	"io/fs"
	"syscall"
)

// Links returns the number of names fi's file has, 1 where unknown. fi
// may come from os.Lstat or from package fsroot (a *unix.Stat_t).
func Links(fi fs.FileInfo) uint64 {
	if n, ok := xsysLinks(fi.Sys()); ok {
		return n
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// Rdev returns the device number of a device node, 0 where unknown.
func Rdev(fi fs.FileInfo) uint64 {
	if n, ok := xsysRdev(fi.Sys()); ok {
		return n
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Rdev)
	}
	return 0
}
