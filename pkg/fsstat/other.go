//go:build !linux && !openbsd && !freebsd && !darwin && !netbsd && !dragonfly

package fsstat

import "io/fs"

// IDs has no inode or ctime to offer here (0, 0); change detection then
// rests on type, size, mode and mtime.
func IDs(fs.FileInfo) (ino uint64, ctime int64) { return 0, 0 }
