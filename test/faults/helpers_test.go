package faults

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// convergeTimeout bounds each wait for a replica to equal its source. The
// trees are small: a healthy run converges in seconds.
const convergeTimeout = 90 * time.Second

// rig is a broker, a source and one replica, each its own process, with
// the source's and the replica's Prometheus endpoints enabled.
type rig struct {
	t          *testing.T
	root       string // everything lives below it
	folder     string
	src, dst   string
	addr, url  string
	brokerData string // --data of the broker; its store is brokerData/broker
	srcData    string
	repData    string
	srcMetrics string // host:port of the source's /metrics
	repMetrics string // host:port of the replica's /metrics

	broker, source, replica *harness.Proc
}

// newRig prepares the paths of a rig under a new temporary directory.
// src is created empty; the daemons are started by startAll.
func newRig(t *testing.T, folder string) *rig {
	t.Helper()
	root := t.TempDir()
	r := &rig{t: t, root: root, folder: folder,
		src: filepath.Join(root, "src"), dst: filepath.Join(root, "dst"),
		brokerData: filepath.Join(root, "broker-data"),
		srcData:    filepath.Join(root, "source-data"), repData: filepath.Join(root, "replica-data")}
	harness.Must(t, os.MkdirAll(r.src, 0o755))
	r.addr = harness.FreeAddr(t)
	r.url = "nats://" + r.addr
	r.srcMetrics = harness.FreeAddr(t)
	r.repMetrics = harness.FreeAddr(t)
	return r
}

// store is the broker's JetStream store directory (what a lost disk loses).
func (r *rig) store() string { return filepath.Join(r.brokerData, "broker") }

func (r *rig) startBroker() {
	r.t.Helper()
	r.broker = harness.StartBroker(r.t, r.brokerData, r.addr)
}

func (r *rig) startSource(extra ...string) {
	r.t.Helper()
	args := append([]string{"--metrics", r.srcMetrics}, extra...)
	r.source = harness.StartSource(r.t, "source", r.url, r.folder, r.src, r.srcData, args...)
}

func (r *rig) startReplica(extra ...string) {
	r.t.Helper()
	args := append([]string{"--metrics", r.repMetrics}, extra...)
	r.replica = harness.StartReplica(r.t, "replica", r.url, r.folder, r.dst, r.repData, "r1", args...)
}

// startAll starts broker, source and replica.
func (r *rig) startAll(sourceArgs ...string) {
	r.t.Helper()
	r.startBroker()
	r.startSource(sourceArgs...)
	r.startReplica()
}

func (r *rig) converge() {
	r.t.Helper()
	harness.Converge(r.t, convergeTimeout, r.url, r.folder, r.src, r.dst)
}

// restartBroker starts a stopped broker again and waits until it listens.
func (r *rig) restartBroker() {
	r.t.Helper()
	harness.Must(r.t, r.broker.Start())
	harness.WaitListening(r.t, r.addr)
}

// fullLog is everything a daemon logged, all its runs.
func fullLog(p *harness.Proc) string {
	b, err := os.ReadFile(p.LogPath())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// readMetric scrapes addr once and returns harness.Metric(name, labels...),
// failing the test if the endpoint cannot be read.
func readMetric(t *testing.T, addr, name string, labels ...string) float64 {
	t.Helper()
	var series map[string]float64
	// The endpoint may be a moment late after a (re)start.
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		var err error
		series, err = harness.Scrape(addr)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return harness.Metric(series, name, labels...)
}

// waitMetric waits until harness.Metric(name, labels...) at addr satisfies ok.
func waitMetric(t *testing.T, timeout time.Duration, addr, name string, ok func(float64) bool, labels ...string) float64 {
	t.Helper()
	var v float64
	harness.Eventually(t, timeout, func() (bool, string) {
		series, err := harness.Scrape(addr)
		if err != nil {
			return false, err.Error()
		}
		v = harness.Metric(series, name, labels...)
		if !ok(v) {
			return false, fmt.Sprintf("%s{%s} = %v", name, strings.Join(labels, ","), v)
		}
		return true, ""
	})
	return v
}

// waitLog waits until the daemon's log (all runs) contains want.
func waitLog(t *testing.T, timeout time.Duration, p *harness.Proc, want string) {
	t.Helper()
	harness.Eventually(t, timeout, func() (bool, string) {
		if strings.Contains(fullLog(p), want) {
			return true, ""
		}
		return false, fmt.Sprintf("%s has not logged %q yet", p.Name(), want)
	})
}

// waitLastRunLog waits until the log of the daemon's latest start
// contains want.
func waitLastRunLog(t *testing.T, timeout time.Duration, p *harness.Proc, want string) {
	t.Helper()
	harness.Eventually(t, timeout, func() (bool, string) {
		if strings.Contains(p.LastRunLog(), want) {
			return true, ""
		}
		return false, fmt.Sprintf("%s has not logged %q since its last start", p.Name(), want)
	})
}

// cpA copies a tree with `cp -a`, keeping everything (modes, times, links).
func cpA(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}

// writeFile writes content to rel under root, creating parents.
func writeFile(t *testing.T, root, rel string, content []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	harness.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	harness.Must(t, os.WriteFile(p, content, 0o644))
}

// randomBytes returns n deterministic pseudo-random bytes (incompressible).
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// textBytes returns n bytes of deterministic text (compressible, like
// documents), tagged so that two seeds never give the same content.
func textBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"replica", "source", "broker", "stream", "chunk", "tombstone", "epoch", "index"}
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d\n", seed)
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(9) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return []byte(b.String()[:n])
}

// regularFiles lists the regular files under root (relative, slash
// separated, sorted), replica temp files excluded.
func regularFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	harness.Must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), wire.TempPrefix) {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

// exists reports whether rel exists under root (without following a
// final symlink).
func exists(root, rel string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil
}

// mustAbsent fails the test for every path of rels that exists under root.
func mustAbsent(t *testing.T, root string, rels []string) {
	t.Helper()
	for _, rel := range rels {
		if exists(root, rel) {
			t.Errorf("%s still exists under %s; it was deleted on the source", rel, root)
		}
	}
}

// ownTree writes a small tree that the tests change by name: plain
// directories of text files, a nested tree to delete whole, a binary file
// of several chunks, and symlinks.
func ownTree(t *testing.T, root string, seed uint64) {
	t.Helper()
	for d := range 4 {
		for f := range 10 {
			writeFile(t, root, fmt.Sprintf("plain/d%d/f%02d.txt", d, f), textBytes(seed*1000+uint64(d*100+f), 200+f*300))
		}
	}
	for _, dir := range []string{"doomed", "doomed/a", "doomed/a/b", "doomed/c"} {
		for f := range 3 {
			writeFile(t, root, fmt.Sprintf("%s/g%d.txt", dir, f), textBytes(seed*2000+uint64(len(dir)*10+f), 500))
		}
	}
	writeFile(t, root, "bin/several-chunks.bin", randomBytes(seed, 400<<10))
	writeFile(t, root, "bin/doomed.bin", randomBytes(seed+1, 150<<10))
	harness.Must(t, os.Symlink("../plain/d0/f00.txt", filepath.Join(root, "bin", "link-to-f00")))
	harness.Must(t, os.Symlink("no/such/target", filepath.Join(root, "bin", "dangling")))
}

// changeOwnTree makes every kind of change to a tree written by ownTree:
// creations (a new directory included), content changes (an in-place edit
// in the middle of a multi-chunk file among them), a mode change, a
// rename, and deletions of files, a symlink and a nested directory tree.
// It returns the paths that no longer exist, the deleted tree's
// descendants included.
func changeOwnTree(t *testing.T, src string, seed uint64) (deleted []string) {
	t.Helper()
	at := func(rel string) string { return filepath.Join(src, filepath.FromSlash(rel)) }
	for i := range 10 {
		writeFile(t, src, fmt.Sprintf("fresh/new-%02d.txt", i), textBytes(seed*3000+uint64(i), 100+i*50))
	}
	writeFile(t, src, "fresh/sub/new.bin", randomBytes(seed+77, 300<<10))
	writeFile(t, src, "plain/d1/f03.txt", textBytes(seed*5000, 4000))
	appendFile(t, at("plain/d2/f05.txt"), []byte("appended after the fault\n"))
	appendFile(t, at(treegen.ReadmeTxt), []byte("appended after the fault\n"))
	f, err := os.OpenFile(at("bin/several-chunks.bin"), os.O_WRONLY, 0)
	harness.Must(t, err)
	_, err = f.WriteAt(randomBytes(seed+99, 1024), 200<<10)
	harness.Must(t, err)
	harness.Must(t, f.Close())
	harness.Must(t, os.Chmod(at("plain/d3/f01.txt"), 0o600))
	harness.Must(t, os.Rename(at("plain/d3/f02.txt"), at("plain/d3/f02-renamed.txt")))
	deleted = append(deleted, "plain/d3/f02.txt")
	for _, rel := range []string{"plain/d0/f01.txt", "plain/d0/f02.txt", "plain/d0/f03.txt", "bin/doomed.bin", "bin/dangling"} {
		harness.Must(t, os.Remove(at(rel)))
		deleted = append(deleted, rel)
	}
	harness.Must(t, filepath.WalkDir(at("doomed"), func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		deleted = append(deleted, filepath.ToSlash(rel))
		return err
	}))
	harness.Must(t, os.RemoveAll(at("doomed")))
	return deleted
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	harness.Must(t, err)
	_, err = f.Write(b)
	harness.Must(t, err)
	harness.Must(t, f.Close())
}

var epochRE = regexp.MustCompile(`epoch=(\d+)`)

// waitReconciled waits until the replica has finished a reconcile at the
// epoch the source moved to when it logged the line containing lossMsg.
// Converging alone would prove little after a broker loss: the replica's
// tree may still be equal to the source simply because it has not looked
// at the damaged stream yet.
func waitReconciled(t *testing.T, r *rig, lossMsg string) {
	t.Helper()
	epoch := ""
	for _, line := range strings.Split(fullLog(r.source), "\n") {
		if strings.Contains(line, lossMsg) {
			if m := epochRE.FindStringSubmatch(line); m != nil {
				epoch = m[1]
			}
		}
	}
	if epoch == "" {
		harness.FailWithLogs(t, fmt.Sprintf("the source logged no epoch with %q", lossMsg))
	}
	done := regexp.MustCompile(`msg="reconcile done".* epoch=` + epoch + `\b`)
	harness.Eventually(t, convergeTimeout, func() (bool, string) {
		if done.MatchString(fullLog(r.replica)) {
			return true, ""
		}
		return false, "the replica has not finished a reconcile at epoch " + epoch
	})
}
