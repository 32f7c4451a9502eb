//go:build unix

package source

import (
	"io/fs"
	"strconv"
	"syscall"
)

// linkCount is the number of names fi's file has, 1 if unknown.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// linkID names the hard-link group of a regular file with several names:
// its device and inode numbers, which every name shares; "" for a file
// with one name.
func linkID(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 || !fi.Mode().IsRegular() {
		return ""
	}
	return strconv.FormatUint(uint64(st.Dev), 16) + "." + strconv.FormatUint(uint64(st.Ino), 16)
}

// rdevOf is the device number of a device node.
func rdevOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Rdev)
	}
	return 0
}
