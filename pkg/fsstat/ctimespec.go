//go:build freebsd || darwin || netbsd

package fsstat

import (
	"io/fs"
	"syscall"
)

// IDs returns the inode number and ctime (Unix nanoseconds) of fi.
func IDs(fi fs.FileInfo) (ino uint64, ctime int64) {
	if ino, ctime, ok := xsysIDs(fi.Sys()); ok {
		return ino, ctime
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Ino), int64(st.Ctimespec.Sec)*1e9 + int64(st.Ctimespec.Nsec)
}
