package main

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// digest is one line per entry, sorted, including mtimes of everything
// (directories and links too), so it pins the whole dataset.
func digest(t *testing.T, root string) string {
	t.Helper()
	tr, err := snapshot(root, snapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for p, e := range tr {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %c %v %d %d %q %x", p, e.kind, e.mode, e.size,
			fi.ModTime().UnixNano(), e.target, e.sum))
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return fmt.Sprintf("%d entries sha256 %x", len(lines), sum)
}

func TestTinyDatasetIsDeterministic(t *testing.T) {
	var digests []string
	for range 2 {
		dir := t.TempDir()
		out, err := ensureDataset(dir, "tiny", t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digest(t, out))
	}
	if digests[0] != digests[1] {
		t.Fatalf("two generations differ: %s vs %s", digests[0], digests[1])
	}
	p := profiles["tiny"]
	// files + big files + links + dirs (root excluded) + big/ + empty dirs
	wantEntries := p.Files + len(p.Big) + p.Symlinks + len(treeDirs(p.Fanout)) - 1 + 1 + p.EmptyDirs
	if !strings.HasPrefix(digests[0], fmt.Sprint(wantEntries)+" entries") {
		t.Fatalf("got %s, want %d entries", digests[0], wantEntries)
	}
}

func TestDatasetIsCached(t *testing.T) {
	dir := t.TempDir()
	out, err := ensureDataset(dir, "tiny", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(out, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureDataset(dir, "tiny", t.Logf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("a cached dataset was regenerated")
	}
}

func TestTextCompressesLikeProse(t *testing.T) {
	var raw, z bytes.Buffer
	if err := writeContent(&raw, textContent, 1<<20, 42, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	w, _ := zlib.NewWriterLevel(&z, 6)
	w.Write(raw.Bytes())
	w.Close()
	r := float64(raw.Len()) / float64(z.Len())
	t.Logf("zlib -6 ratio %.2f", r)
	if r < 2.2 || r > 3.3 {
		t.Fatalf("zlib ratio %.2f, want about 2.7", r)
	}
}

// comparedPair makes two identical small trees for the comparator tests.
func comparedPair(t *testing.T) (string, string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	for _, root := range []string{src, dst} {
		for _, d := range []string{"a", "a/b"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range map[string]string{"a/x.txt": "hello world", "a/b/y.bin": "\x00\x01\x02", "z": ""} {
			if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("a/x.txt", filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
	}
	// identical mtimes, as a replicator must leave them
	fi, err := os.Stat(filepath.Join(src, "a/x.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a/x.txt", "a/b/y.bin", "z"} {
		for _, root := range []string{src, dst} {
			if err := os.Chtimes(filepath.Join(root, name), fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return src, dst
}

func mustDiff(t *testing.T, src, dst string) []string {
	t.Helper()
	d, err := compareDirs(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCompareDetectsDifferences(t *testing.T) {
	cases := []struct {
		name   string
		change func(dst string) error
		want   string
	}{
		{"flipped byte", func(dst string) error {
			p := filepath.Join(dst, "a/x.txt")
			fi, _ := os.Stat(p)
			if err := os.WriteFile(p, []byte("hello World"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(p, fi.ModTime(), fi.ModTime()) // same size and mtime: only the hash sees it
		}, "content a/x.txt"},
		{"mode", func(dst string) error { return os.Chmod(filepath.Join(dst, "a/b/y.bin"), 0o600) }, "mode -rw-r--r--!=-rw------- a/b/y.bin"},
		{"missing", func(dst string) error { return os.Remove(filepath.Join(dst, "z")) }, "missing z"},
		{"extra", func(dst string) error { return os.WriteFile(filepath.Join(dst, "a/new"), nil, 0o644) }, "extra a/new"},
		{"link target", func(dst string) error {
			l := filepath.Join(dst, "link")
			if err := os.Remove(l); err != nil {
				return err
			}
			return os.Symlink("a/b/y.bin", l)
		}, `target "a/x.txt"!="a/b/y.bin" link`},
		{"type", func(dst string) error {
			p := filepath.Join(dst, "z")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o755)
		}, "type f!=d z"},
		{"jetsync temp file", func(dst string) error {
			return os.WriteFile(filepath.Join(dst, "a", wire.TempPrefix+"123"), nil, 0o644)
		}, "extra a/" + wire.TempPrefix + "123"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, dst := comparedPair(t)
			if d := mustDiff(t, src, dst); len(d) != 0 {
				t.Fatalf("identical trees differ: %v", d)
			}
			if err := c.change(dst); err != nil {
				t.Fatal(err)
			}
			if d := mustDiff(t, src, dst); !slices.Contains(d, c.want) {
				t.Fatalf("got %q, want %q among them", d, c.want)
			}
		})
	}
}

func TestCompareSeesMtime(t *testing.T) {
	src, dst := comparedPair(t)
	p := filepath.Join(dst, "a/x.txt")
	fi, _ := os.Stat(p)
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime().Add(1)); err != nil {
		t.Fatal(err)
	}
	d := mustDiff(t, src, dst)
	if len(d) != 1 || !strings.HasPrefix(d[0], "mtime ") {
		t.Fatalf("got %q, want one mtime difference", d)
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP jetsync_source_published_bytes_total x
# TYPE jetsync_source_published_bytes_total counter
jetsync_source_published_bytes_total{folder="default"} 1.5e+06
jetsync_replica_applied_total{folder="default",type="file"} 3
jetsync_replica_applied_total{folder="default",type="dir"} 2
go_goroutines 12
`
	s, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s[mPublishedBytes] != 1.5e6 || s["jetsync_replica_applied_total"] != 5 || s["go_goroutines"] != 12 {
		t.Fatalf("parsed %v", s)
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	if p := percentile(xs, 50); p != 3 {
		t.Fatalf("p50 %v", p)
	}
	if p := percentile(xs, 90); p < 4.59 || p > 4.61 {
		t.Fatalf("p90 %v", p)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("median %v", m)
	}
}
