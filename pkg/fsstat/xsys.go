//go:build linux || freebsd

package fsstat

import "golang.org/x/sys/unix"

// xsysIDs reads a *unix.Stat_t (what fstatat through golang.org/x/sys
// gives; package fsroot returns such infos).
func xsysIDs(sys any) (ino uint64, ctime int64, ok bool) {
	st, ok := sys.(*unix.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Ino), st.Ctim.Nano(), true
}

// xsysLinks reads the link count of a *unix.Stat_t.
func xsysLinks(sys any) (uint64, bool) {
	st, ok := sys.(*unix.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true
}

// xsysRdev reads the device number of a *unix.Stat_t.
func xsysRdev(sys any) (uint64, bool) {
	st, ok := sys.(*unix.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Rdev), true
}
