//go:build !linux && !openbsd && !freebsd && !darwin && !netbsd && !dragonfly

package source

import "io/fs"

// sysStat has no inode or ctime to offer here; change detection then rests
// on type, size, mode and mtime.
func sysStat(fs.FileInfo) (ino uint64, ctime int64) { return 0, 0 }
