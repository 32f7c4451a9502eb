//go:build unix

package source

import (
	"io/fs"
	"syscall"
)

// linkCount is the number of names fi's file has, 1 if unknown.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
