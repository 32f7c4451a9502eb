//go:build !unix

package source

import "io/fs"

// linkCount is the number of names fi's file has, 1 if unknown.
func linkCount(fs.FileInfo) uint64 { return 1 }

// linkID is "": hard links are not looked for on this platform.
func linkID(fs.FileInfo) string { return "" }

// rdevOf is 0: device numbers are not read on this platform.
func rdevOf(fs.FileInfo) uint64 { return 0 }
