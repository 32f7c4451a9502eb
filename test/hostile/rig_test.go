//go:build linux

package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// Timeouts. A healthy replica applies a live change in well under a
// second; these leave room for a loaded machine.
const (
	// goodTimeout bounds a good change's way from the source's disk to
	// the replica's.
	goodTimeout = 30 * time.Second
	// noticeTimeout bounds the wait for the replica to act on a folder
	// meta: it reads the meta every 10 s when nothing else tells it.
	noticeTimeout = 40 * time.Second
	// settleTimeout bounds the wait, after a case, for the replica to
	// apply what the case left for it (tombstones of its paths).
	settleTimeout = time.Minute
)

// rig is the trio every case shares: a broker, a source and replica r1,
// each its own process, and the hostile publisher, the test's own NATS
// connection to the broker.
type rig struct {
	root    string // everything the test writes is below it
	folder  string
	src     string // the source's tree
	dst     string // the replica's tree
	outside string // files beside the trees, which no case may change
	url     string
	metrics string // host:port of the replica's /metrics

	broker, source, replica *harness.Proc
	pub                     *publisher

	good      int       // good changes made so far
	outsideAt string    // snapshotOutside at start
	mem       *memWatch // r1's peak memory, over all its runs
}

// Directories directly under rig.root that jetsync writes to; everything
// else there is outside and must never change.
var ownDirs = []string{"src", "dst", "dst2", "stage", "broker-data", "source-data", "replica-data", "replica2-data"}

// startRig writes a small tree, starts the trio on it and waits until the
// replica equals the source.
func startRig(t *testing.T) *rig {
	t.Helper()
	root := t.TempDir()
	h := &rig{root: root, folder: "hostile", src: filepath.Join(root, "src"), dst: filepath.Join(root, "dst"),
		outside: filepath.Join(root, "outside")}
	seedTree(t, h.src)
	seedOutside(t, h.outside)
	harness.Must(t, os.MkdirAll(filepath.Join(root, "stage"), 0o755))
	addr := harness.FreeAddr(t)
	h.url = "nats://" + addr
	h.metrics = harness.FreeAddr(t)
	h.broker = harness.StartBroker(t, filepath.Join(root, "broker-data"), addr)
	h.source = harness.StartSource(t, "source", h.url, h.folder, h.src, filepath.Join(root, "source-data"))
	h.replica = harness.StartReplica(t, "replica", h.url, h.folder, h.dst, filepath.Join(root, "replica-data"), "r1",
		"--metrics", h.metrics)
	guardMemory(t, h.replica)
	h.mem = watchMemory(t, h.replica)
	harness.Converge(t, 2*time.Minute, h.url, h.folder, h.src, h.dst)
	h.pub = newPublisher(t, h.url, h.folder)
	h.outsideAt = snapshotOutside(t, root)
	return h
}

// seedTree writes the source's tree: a few small files (carried inline
// in their records), one of several chunks, a file docs2 that the
// ordering case gives published children, a symlink and the directory
// the good changes go to.
func seedTree(t *testing.T, src string) {
	t.Helper()
	harness.WriteFile(t, filepath.Join(src, "docs/keep.txt"), "a file whose latest state the junk case replaces\n", 0o644)
	harness.WriteFile(t, filepath.Join(src, "docs/notes.txt"), strings.Repeat("notes line\n", 800), 0o644)
	harness.WriteFile(t, filepath.Join(src, "docs2"), "docs2 is a file\n", 0o644)
	harness.WriteFile(t, filepath.Join(src, "data/several-chunks.bin"), string(treegen.Random(300<<10, 1301)), 0o644)
	harness.Must(t, os.MkdirAll(filepath.Join(src, "good"), 0o755))
	harness.Must(t, os.Symlink("../docs/keep.txt", filepath.Join(src, "data/link")))
}

// seedOutside writes the files a hostile path might reach: beside the
// replica's root, where "../x" or a symlink would lead.
func seedOutside(t *testing.T, dir string) {
	t.Helper()
	harness.WriteFile(t, filepath.Join(dir, "victim.txt"), "outside the replica's root\n", 0o644)
	harness.WriteFile(t, filepath.Join(dir, "sub/keep.txt"), "outside the replica's root, one level down\n", 0o644)
}

// run runs one case as a subtest between the checks every case shares: a
// good change before and after it reaches the replica, and then the
// replica is alive, nothing outside changed and its memory stayed low.
func (h *rig) run(t *testing.T, name string, body func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		start := time.Now()
		h.revive(t)
		h.goodChange(t, "before")
		body(t)
		h.goodChange(t, "after")
		h.checkShared(t)
		t.Logf("case %s took %s", name, time.Since(start).Round(time.Millisecond))
	})
}

// checkShared checks what must hold after every case.
func (h *rig) checkShared(t *testing.T) {
	t.Helper()
	if err := harness.CheckAlive(t); err != nil {
		t.Error(err)
	}
	if !h.replica.Running() {
		t.Errorf("the replica is not running")
	}
	if now := snapshotOutside(t, h.root); now != h.outsideAt {
		t.Errorf("something outside the trees changed:\nbefore:\n%s\nnow:\n%s", h.outsideAt, now)
	}
	h.checkMemory(t, "at the end of the case")
}

// revive starts the replica again if an earlier case left it dead, so
// that one crash does not fail every later case.
func (h *rig) revive(t *testing.T) {
	t.Helper()
	if h.replica.Running() {
		return
	}
	died, err := h.replica.Died()
	t.Logf("the replica is not running (exited on its own: %v, %v); starting it for this case", died, err)
	harness.Must(t, h.replica.Start())
	guardMemory(t, h.replica)
}

// restartReplica stops the replica cleanly, or finds it dead, and starts
// it again; its memory is checked first, since a new run starts a new
// high-water mark.
func (h *rig) restartReplica(t *testing.T) {
	t.Helper()
	if h.replica.Running() {
		h.checkMemory(t, "before its restart")
		if err := h.replica.Stop(); err != nil {
			t.Errorf("stop the replica: %v", err)
		}
	}
	harness.Must(t, h.replica.Start())
	guardMemory(t, h.replica)
}

// checkMemory fails t if a run of the replica has reached memoryLimit
// since the last check.
func (h *rig) checkMemory(t *testing.T, when string) {
	t.Helper()
	h.mem.check(t, h.replica, when)
}

// goodChange writes a new file into the source's tree and reports whether
// it reached the replica, failing t if it did not within goodTimeout.
func (h *rig) goodChange(t *testing.T, when string) bool {
	t.Helper()
	h.good++
	rel := h.goodPath()
	content := fmt.Sprintf("good change %d, %s %s\n", h.good, when, t.Name())
	h.placeFile(t, rel, []byte(content))
	return within(t, goodTimeout, fmt.Sprintf("the good change %s (%s) reaching the replica", when, rel), func() (bool, string) {
		return sameFile(filepath.Join(h.dst, rel), []byte(content))
	})
}

// goodPath is the path of the latest good change.
func (h *rig) goodPath() string { return fmt.Sprintf("good/%03d.txt", h.good) }

// placeFile writes data beside the tree and renames it to rel in the
// source's tree: the source sees it appear whole.
func (h *rig) placeFile(t *testing.T, rel string, data []byte) {
	t.Helper()
	dst := filepath.Join(h.src, filepath.FromSlash(rel))
	harness.Must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	tmp := filepath.Join(h.root, "stage", strings.ReplaceAll(rel, "/", "_"))
	harness.Must(t, os.WriteFile(tmp, data, 0o644))
	harness.Must(t, os.Rename(tmp, dst))
}

// sameFile reports whether path is a regular file holding want.
func sameFile(path string, want []byte) (bool, string) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, err.Error()
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Sprintf("%s is a %s, want a file", path, fi.Mode().Type())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		return false, err.Error()
	}
	if string(got) != string(want) {
		return false, fmt.Sprintf("%s holds %d bytes (%.40q), want %d (%.40q)", path, len(got), got, len(want), want)
	}
	return true, ""
}

// within polls cond until it holds and reports whether it did: on timeout,
// or as soon as a daemon died, it fails t (t.Errorf) with what and the
// last message, and the case goes on to its other checks.
func within(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if err := harness.CheckAlive(t); err != nil {
			t.Errorf("%s: %v", what, err)
			return false
		}
		ok, msg := cond()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: not within %s; last: %s", what, timeout, harness.FirstLines(msg, 20))
			return false
		}
		time.Sleep(harness.PollEvery)
	}
}

// poll is within that only reports: for cleanups, whose failure the case
// has already reported.
func poll(timeout time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok || time.Now().After(deadline) {
			return ok, msg
		}
		time.Sleep(harness.PollEvery)
	}
}

// metric reads one of the replica's metrics (the sum of its series with
// labels), 0 while the replica does not serve them.
func (h *rig) metric(name string, labels ...string) float64 {
	series, err := harness.Scrape(h.metrics)
	if err != nil {
		return 0
	}
	return harness.Metric(series, name, labels...)
}

// errorsOf is jetsync_replica_errors_total of one kind, or of every kind
// when kind is "".
func (h *rig) errorsOf(kind string) float64 {
	if kind == "" {
		return h.metric("jetsync_replica_errors_total")
	}
	return h.metric("jetsync_replica_errors_total", `kind="`+kind+`"`)
}

// caughtUp reports whether the replica's position has reached the last
// state record in the stream.
func (h *rig) caughtUp(t *testing.T) (bool, string) {
	ctx, cancel := opContext()
	defer cancel()
	last, err := bus.LastStateSeq(ctx, h.pub.state(t), h.folder)
	if err != nil {
		return false, err.Error()
	}
	applied := h.metric("jetsync_replica_applied_seq")
	return applied >= float64(last), fmt.Sprintf("the replica is at %.0f, the stream's last state record at %d", applied, last)
}

// settle waits, for a case's cleanup, until the replica has caught up,
// and only logs if it does not.
func (h *rig) settle(t *testing.T) {
	t.Helper()
	if ok, msg := poll(settleTimeout, func() (bool, string) { return h.caughtUp(t) }); !ok {
		t.Logf("cleanup: the replica did not catch up within %s: %s", settleTimeout, msg)
	}
}
