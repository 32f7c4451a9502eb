//go:build !unix

package fsstat

import "io/fs"

// Links returns 1: this platform's hard links are not counted.
func Links(fs.FileInfo) uint64 { return 1 }
