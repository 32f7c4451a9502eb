//go:build !unix

package source

import "io/fs"

// linkCount is the number of names fi's file has, 1 if unknown.
func linkCount(fs.FileInfo) uint64 { return 1 }

// linkID is "": hard links are not looked for on this platform.
func linkID(fs.FileInfo) string { return "" }
