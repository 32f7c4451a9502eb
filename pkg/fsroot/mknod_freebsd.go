package fsroot

import "golang.org/x/sys/unix"

func mknodat(dirfd int, name string, mode uint32, dev uint64) error {
	return unix.Mknodat(dirfd, name, mode, dev)
}
