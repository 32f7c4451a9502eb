//go:build !linux

package fsroot

// startWriteback is a no-op where there is no sync_file_range: Commit's
// fsync writes the whole file.
func startWriteback(fd uintptr, off, n int64) {}
