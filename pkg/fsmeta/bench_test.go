//go:build unix

package fsmeta

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkStatOwnerXattrs measures what the source pays per file for
// owners and attributes: lstat, the (cached) names, and one listxattr on
// a file that has none. One op is one file.
func BenchmarkStatOwnerXattrs(b *testing.B) {
	dir := b.TempDir()
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(paths[i], []byte("small"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := paths[i%len(paths)]
		fi, err := os.Lstat(p)
		if err != nil {
			b.Fatal(err)
		}
		OwnerOf(fi)
		if x, err := ReadXattrs(p); err != nil || len(x) != 0 {
			b.Fatal(x, err)
		}
	}
}
