package fsstat

import "io/fs"

// IDs returns the inode number and ctime (Unix nanoseconds) of fi, or
// zeros where the platform or fi has none; change detection then rests on
// type, size, mode and mtime.
func IDs(fi fs.FileInfo) (ino uint64, ctime int64) {
	sys := fi.Sys()
	if ino, ctime, ok := xsysIDs(sys); ok {
		return ino, ctime
	}
	ino, ctime, _ = syscallIDs(sys)
	return ino, ctime
}
