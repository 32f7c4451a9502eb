package netfaults

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/status"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// changer makes rounds of changes of every kind under src/net: creations,
// a multi-chunk file, an edit in the middle of it, an append, a delete,
// a rename, a chmod, an mtime change, a symlink, an empty directory and
// the removal of a whole directory tree.
type changer struct {
	t     *testing.T
	src   string
	round int
}

func (c *changer) at(rel string) string { return filepath.Join(c.src, filepath.FromSlash(rel)) }

func roundDir(r int) string { return fmt.Sprintf("net/r%03d", r) }

// next makes one round of changes and returns a path (relative) that it
// created and that did not exist before.
func (c *changer) next() string {
	t := c.t
	t.Helper()
	r := c.round
	c.round++
	dir := roundDir(r)
	for i := range 20 {
		harness.WriteFile(t, c.at(fmt.Sprintf("%s/f-%02d.txt", dir, i)),
			strings.Repeat(fmt.Sprintf("round %d file %d\n", r, i), 1+i*10), 0o644)
	}
	big := make([]byte, 300<<10)
	rng := rand.NewChaCha8([32]byte{byte(r), byte(r >> 8), 'n', 'e', 't'})
	_, _ = rng.Read(big)
	harness.Must(t, os.WriteFile(c.at(dir+"/big.bin"), big, 0o644))
	harness.Must(t, os.MkdirAll(c.at(dir+"/empty"), 0o755))
	appendTo(t, c.at(treegen.ReadmeTxt), fmt.Sprintf("round %d\n", r))
	if r > 0 {
		prev := roundDir(r - 1)
		harness.Must(t, os.Remove(c.at(prev+"/f-00.txt")))
		harness.Must(t, os.Rename(c.at(prev+"/f-01.txt"), c.at(dir+"/moved-from-prev.txt")))
		harness.Must(t, os.Chmod(c.at(prev+"/f-02.txt"), 0o600))
		old := time.Date(2012, 1, 2, 3, 4, 5, 600, time.UTC).Add(time.Duration(r) * time.Hour)
		harness.Must(t, os.Chtimes(c.at(prev+"/f-03.txt"), old, old))
		overwriteAt(t, c.at(prev+"/big.bin"), 150<<10, fmt.Sprintf("edited in round %d", r))
		harness.Must(t, os.Symlink("../r"+fmt.Sprintf("%03d", r-1)+"/f-04.txt", c.at(dir+"/link")))
	}
	if r > 1 {
		harness.Must(t, os.RemoveAll(c.at(roundDir(r-2))))
	}
	return dir + "/f-05.txt"
}

func appendTo(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	harness.Must(t, err)
	_, err = f.WriteString(s)
	harness.Must(t, err)
	harness.Must(t, f.Close())
}

// overwriteAt rewrites bytes in place at off, size unchanged.
func overwriteAt(t testing.TB, path string, off int64, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	harness.Must(t, err)
	_, err = f.WriteAt([]byte(s), off)
	harness.Must(t, err)
	harness.Must(t, f.Close())
}

// exists reports whether rel exists under root (a symlink counts).
func exists(root, rel string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil
}

// waitFreshStatus waits until `jetsync status --json` against url shows
// the folder's source and replica reports written after since.
func waitFreshStatus(t *testing.T, url, folder string, since time.Time, timeout time.Duration) {
	t.Helper()
	harness.Eventually(t, timeout, func() (bool, string) {
		res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--folder", folder, "--json")
		if res.Code != 0 {
			return false, fmt.Sprintf("jetsync status against %s: %s", url, res)
		}
		var folders []status.FolderStatus
		if err := json.Unmarshal([]byte(res.Stdout), &folders); err != nil || len(folders) != 1 {
			return false, fmt.Sprintf("jetsync status --json: %v\n%s", err, res)
		}
		f := folders[0]
		switch {
		case f.Source == nil || f.Source.Updated < since.UnixNano():
			return false, "no fresh source report:\n" + res.Stdout
		case len(f.Replicas) != 1 || f.Replicas[0].Updated < since.UnixNano():
			return false, "no fresh replica report:\n" + res.Stdout
		}
		return true, ""
	})
}

// waitVerify waits until jetsync verify of dir passes.
func waitVerify(t *testing.T, url, folder, dir string, timeout time.Duration, why string) {
	t.Helper()
	harness.Eventually(t, timeout, func() (bool, string) {
		res := harness.Verify(t, url, folder, dir)
		if res.Code == 0 {
			return true, ""
		}
		return false, why + ":\n" + res.String()
	})
}

func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }
