package fsroot

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to start writing [off, off+n) of fd to
// disk without waiting for it, so that the fsync in Commit finds most of a
// big file already written instead of starting from the whole of it.
// It is advice: an error changes nothing and is ignored.
func startWriteback(fd uintptr, off, n int64) {
	_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
