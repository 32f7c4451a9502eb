package exclude

import (
	"fmt"
	"testing"
)

// benchPaths is a tree's worth of paths of typical depth and names.
func benchPaths() []string {
	var ps []string
	for i := range 1000 {
		ps = append(ps, fmt.Sprintf("projects/p%d/src/module%d/file%d.go", i%50, i%17, i))
		ps = append(ps, fmt.Sprintf("home/user%d/Documents/report-%d.pdf", i%20, i))
	}
	return ps
}

// typical is a realistic list: names anywhere, anchored paths, a
// directory-only pattern, globstars and a re-include.
var typical = []string{"*.tmp", "*.swp", "~*", ".DS_Store", "Thumbs.db", "node_modules/", ".cache/",
	"/build", "/home/*/Downloads", "**/target/**", "projects/**/*.o", "*.log", "!important.log", "[Bb]ackup*"}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1, len(typical)} {
		b.Run(fmt.Sprintf("patterns=%d", n), func(b *testing.B) {
			m, err := Compile(typical[:n])
			if err != nil {
				b.Fatal(err)
			}
			ps := benchPaths()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.Match(ps[i%len(ps)], false)
			}
		})
	}
}

func BenchmarkExcluded(b *testing.B) {
	m, err := Compile(typical)
	if err != nil {
		b.Fatal(err)
	}
	ps := benchPaths()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Excluded(ps[i%len(ps)], false)
	}
}
