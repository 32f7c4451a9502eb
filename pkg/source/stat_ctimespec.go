//go:build freebsd || darwin || netbsd

package source

import (
	"io/fs"
	"syscall"
)

func sysStat(fi fs.FileInfo) (ino uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Ino), int64(st.Ctimespec.Sec)*1e9 + int64(st.Ctimespec.Nsec)
}
