//go:build !unix

package fsstat

import "io/fs"

// Links returns 1: this platform's hard links are not counted.
func Links(fs.FileInfo) uint64 { return 1 }

// Rdev returns 0: device numbers are not read on this platform.
func Rdev(fs.FileInfo) uint64 { return 0 }
