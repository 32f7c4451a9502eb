//go:build !linux && !freebsd

package fsstat

func xsysIDs(any) (ino uint64, ctime int64, ok bool) { return 0, 0, false }

// xsysLinks is false: no *unix.Stat_t here.
func xsysLinks(any) (uint64, bool) { return 0, false }

// xsysRdev is false: no *unix.Stat_t here.
func xsysRdev(any) (uint64, bool) { return 0, false }
