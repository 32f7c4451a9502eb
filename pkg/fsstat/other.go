//go:build !linux && !openbsd && !freebsd && !darwin && !netbsd && !dragonfly

package fsstat

func syscallIDs(any) (ino uint64, ctime int64, ok bool) { return 0, 0, false }
