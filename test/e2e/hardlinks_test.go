//go:build unix

package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		return 0
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Ino)
}

// linkState reports whether the names in each group are one file in dir,
// each group a different file, and every name holds want[name].
func linkState(t *testing.T, dir string, groups [][]string, want map[string][]byte) (bool, string) {
	t.Helper()
	seen := map[uint64]string{}
	for _, g := range groups {
		first := inode(t, filepath.Join(dir, g[0]))
		if first == 0 {
			return false, g[0] + " missing"
		}
		if other, ok := seen[first]; ok {
			return false, g[0] + " is the same file as " + other
		}
		seen[first] = g[0]
		for _, n := range g {
			if inode(t, filepath.Join(dir, n)) != first {
				return false, n + " is not the same file as " + g[0]
			}
			b, _ := os.ReadFile(filepath.Join(dir, n))
			if !bytes.Equal(b, want[n]) {
				return false, n + " does not hold its content"
			}
		}
	}
	return true, ""
}

// TestHardLinks: names of one file at the source are one file on the
// replica, its content fetched once; a write through one name reaches
// every name within seconds (not at the next full scan); a new name, an
// unlinked name, a renamed name and a broken link all converge, and
// verify tells a broken group.
func TestHardLinks(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	p := func(rel string) string { return filepath.Join(src, rel) }
	harness.Must(t, os.MkdirAll(p("sub"), 0o755))
	content := make([]byte, 1<<20)
	rand.Read(content)
	harness.Must(t, os.WriteFile(p("a"), content, 0o644))
	harness.Must(t, os.Link(p("a"), p("b")))
	harness.Must(t, os.Link(p("a"), p("sub/c")))
	harness.Must(t, os.WriteFile(p("d"), content, 0o644)) // same bytes, another file
	want := map[string][]byte{"a": content, "b": content, "sub/c": content, "d": content}

	repMetrics := harness.FreeAddr(t)
	tr := harness.StartTrioWith(t, "links", src, nil, []string{"--metrics", repMetrics})
	converge := func(what string, groups ...[]string) {
		t.Helper()
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			ok, msg := linkState(t, tr.Dst, groups, want)
			return ok, what + ": " + msg
		})
	}
	converge("initial sync", []string{"a", "b", "sub/c"}, []string{"d"})
	harness.Converge(t, time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	if n := harness.ReadMetric(t, repMetrics, "jetsync_replica_hardlinked_total"); n != 2 {
		t.Errorf("jetsync_replica_hardlinked_total = %v after the initial sync, want 2 (b and sub/c)", n)
	}
	// a's content travels once for its three names; d, another file,
	// may be fetched beside it.
	if got := harness.ReadMetric(t, repMetrics, "jetsync_replica_fetched_bytes_total"); got > float64(len(content))*2.1 {
		t.Errorf("fetched %v bytes for two files of %d, one of them under three names", got, len(content))
	}

	harness.Phase(t, "write through one name", func() {
		f, err := os.OpenFile(p("b"), os.O_WRONLY, 0)
		harness.Must(t, err)
		_, err = f.WriteAt([]byte("written through b"), 4096)
		harness.Must(t, err)
		harness.Must(t, f.Close())
		edited := append([]byte(nil), content...)
		copy(edited[4096:], "written through b")
		want["a"], want["b"], want["sub/c"] = edited, edited, edited
		converge("after the write", []string{"a", "b", "sub/c"}, []string{"d"})
	})

	harness.Phase(t, "new name, unlink, rename, break", func() {
		harness.Must(t, os.Link(p("a"), p("e")))
		harness.Must(t, os.Remove(p("b")))
		harness.Must(t, os.Rename(p("sub/c"), p("sub/f")))
		// Breaking a link: a copy renamed over one name.
		harness.Must(t, os.WriteFile(p("g.tmp"), want["a"], 0o644))
		harness.Must(t, os.Link(p("a"), p("g")))
		time.Sleep(200 * time.Millisecond)
		harness.Must(t, os.Rename(p("g.tmp"), p("g")))
		want["e"], want["sub/f"], want["g"] = want["a"], want["a"], want["a"]
		converge("after the changes", []string{"a", "e", "sub/f"}, []string{"g"}, []string{"d"})
		if _, err := os.Lstat(filepath.Join(tr.Dst, "b")); err == nil {
			t.Error("b, unlinked at the source, is still on the replica")
		}
		harness.Converge(t, time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	})

	harness.Phase(t, "verify tells a broken group", func() {
		harness.Must(t, tr.Replica.Stop())
		root, err := os.Stat(tr.Dst)
		harness.Must(t, err)
		e := filepath.Join(tr.Dst, "e")
		harness.Must(t, os.WriteFile(e+".tmp", want["e"], 0o644))
		harness.Must(t, os.Rename(e+".tmp", e))
		st, err := os.Lstat(filepath.Join(tr.Dst, "a"))
		harness.Must(t, err)
		harness.Must(t, os.Chtimes(e, st.ModTime(), st.ModTime()))
		// Only the link differs: the root's mtime is put back.
		harness.Must(t, os.Chtimes(tr.Dst, root.ModTime(), root.ModTime()))
		res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst)
		if res.Code != 1 || !strings.Contains(res.Stdout, "hardlink e (want the same file as a, got a separate file)") {
			t.Errorf("verify of a broken group: %s", res)
		}
		if res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst, "--ignore", "links"); res.Code != 0 {
			t.Errorf("verify --ignore links: %s", res)
		}
	})
}
