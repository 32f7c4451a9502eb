//go:build linux || openbsd || dragonfly

package fsstat

import "syscall"

// syscallIDs reads the *syscall.Stat_t of package os's infos.
func syscallIDs(sys any) (ino uint64, ctime int64, ok bool) {
	st, ok := sys.(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Ino), int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec), true
}
