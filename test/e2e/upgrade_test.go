package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// previousRelease is the last commit whose source kept every content
// chunk in the folder stream (subjects jetsync.F.>, state records of
// version 2).
const previousRelease = "d6db9a6"

// TestUpgradeFromPreviousRelease upgrades a broker, a source and a
// replica that synced a tree with the previous release, in place, and
// checks what docs/PROTOCOL.md ("Upgrading from releases that kept content
// in the state stream", "Versioning") promises: the upgraded source
// removes the chunks from the folder stream and narrows it to the state
// subjects, keeping its records, their sequences and its creation time;
// the upgraded replica goes on from its position without fetching or
// reconciling anything; live changes flow again. Replicas left on the
// previous release misapply nothing: the upgraded broker refuses them, as
// they have no credentials it admits; on a broker that admits them, one
// that was in sync stops at the first record of the new format and says
// to upgrade it, and one started afresh applies nothing at all.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel()
	old := harness.BuildCommit(t, previousRelease)

	const folder = "upgrade-e2e"
	var (
		dir        = t.TempDir()
		src        = filepath.Join(dir, "src")
		dst        = filepath.Join(dir, "dst")
		brokerData = filepath.Join(dir, "broker-data")
		srcData    = filepath.Join(dir, "source-data")
		repData    = filepath.Join(dir, "replica-data")
		staleDst   = filepath.Join(dir, "stale-dst")
		staleData  = filepath.Join(dir, "stale-replica-data")
		addr       = harness.FreeAddr(t)
		url        = "nats://" + addr
		repMetrics = harness.FreeAddr(t)
	)
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(41)))
	// Files of several chunks each, of random (incompressible) bytes: what
	// the previous release stored in the folder stream, and the bulk of
	// what the upgrade must remove from it.
	bigs := map[string]int{
		"big/one.bin":       3<<20 + 17,
		"big/two.bin":       4 << 20,
		"big/sub/three.bin": 5<<20 + 4099,
		"media/four.bin":    2<<20 + 1,
	}
	randomBytes := 0
	for rel, n := range bigs {
		harness.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(src, rel)), 0o755))
		harness.Must(t, os.WriteFile(filepath.Join(src, rel), treegen.Random(n, uint64(n)), 0o644))
		randomBytes += n
	}
	paths, treeBytes := treeSize(t, src)
	t.Logf("tree: %d paths, %d bytes (%d of them in %d random files)", paths, treeBytes, randomBytes, len(bigs))

	var (
		before streamState
		stale  *harness.Proc // a replica left on the previous release
	)
	harness.Phase(t, "sync with the previous release", func() {
		oldBroker := old.StartBroker(t, brokerData, addr)
		oldSource := old.StartSource(t, "old-source", url, folder, src, srcData)
		oldReplica := old.StartReplica(t, "old-replica", url, folder, dst, repData, "r1")
		stale = old.StartReplica(t, "stale-replica", url, folder, staleDst, staleData, "r-stale")
		convergeWith(t, old, url, folder, src, dst)
		convergeWith(t, old, url, folder, src, staleDst)

		js := harness.DialJetStream(t, url)
		before = readStream(t, js, folder)
		t.Logf("stream of the previous release: %s", before)
		if !slices.Contains(before.subjects, "jetsync."+folder+".>") {
			t.Fatalf("stream subjects %q: the previous release should bind jetsync.%s.>", before.subjects, folder)
		}
		// These make the upgrade checks below meaningful: there are
		// chunks to remove, and they are most of the stream.
		if before.chunkMsgs == 0 || before.msgs <= uint64(paths) {
			t.Fatalf("stream of the previous release holds %d messages, %d of them chunks, for %d paths: want chunks beside the states",
				before.msgs, before.chunkMsgs, paths)
		}
		if before.bytes < uint64(randomBytes) {
			t.Fatalf("stream of the previous release holds %d bytes, less than the %d random bytes of the tree", before.bytes, randomBytes)
		}
		for _, p := range []*harness.Proc{stale, oldReplica, oldSource, oldBroker} {
			harness.Must(t, p.Stop())
		}
	})
	storeBefore := streamStoreBytes(t, brokerData, "JETSYNC_"+folder)

	var broker *harness.Proc
	harness.Phase(t, "upgrade broker, source and replica in place", func() {
		broker = harness.StartBroker(t, brokerData, addr)
		source := harness.StartSource(t, "source", url, folder, src, srcData)
		waitLastRunLog(t, convergeTimeout, source, "full scan done")
		if !strings.Contains(source.LastRunLog(), "upgraded the folder stream") {
			harness.FailWithLogs(t, "the upgraded source did not log that it upgraded the folder stream")
		}

		js := harness.DialJetStream(t, url)
		after := readStream(t, js, folder)
		t.Logf("stream after the upgrade: %s", after)
		want := []string{"jetsync." + folder + ".m", "jetsync." + folder + ".s.>"}
		if got := slices.Sorted(slices.Values(after.subjects)); !slices.Equal(got, want) {
			t.Errorf("stream subjects after the upgrade: %q, want %q", got, want)
		}
		if after.chunkMsgs != 0 {
			t.Errorf("%d messages remain under jetsync.%s.c.> in the state stream", after.chunkMsgs, folder)
		}
		if !after.created.Equal(before.created) {
			t.Errorf("stream created %s, before the upgrade %s: it was recreated, replicas lose their positions",
				after.created, before.created)
		}
		// An unchanged tree: the upgraded source republishes no state, so
		// every record keeps its sequence (the replica's position stays
		// valid) and none is lost with the chunks. It adds one record: the
		// folder root's own (record version 4), which the previous
		// release did not publish.
		if after.stateMsgs != before.stateMsgs+1 {
			t.Errorf("state records: %d, the newest at %d; before the upgrade %d, the newest at %d",
				after.stateMsgs, after.lastStateSeq, before.stateMsgs, before.lastStateSeq)
		}
		if v := recordVersion(t, js, folder, wire.RootPath); v != wire.RecordVersion {
			t.Errorf("the folder root's record is of version %d", v)
		}
		// What the broker stores for the folder, as it accounts for it
		// (`nats stream info`, `jetsync status`). Its files on disk shrink
		// later: the server rewrites message blocks with deleted messages
		// in its background sync (every 2 minutes by default), and never
		// the last block before a new one starts.
		if after.bytes > uint64(treeBytes)/20 {
			t.Errorf("the state stream holds %d bytes after the upgrade, over 1/20 of the tree's %d", after.bytes, treeBytes)
		}
		t.Logf("broker files of the folder stream: %d bytes before the upgrade, %d right after",
			storeBefore, streamStoreBytes(t, brokerData, "JETSYNC_"+folder))

		started := time.Now()
		replica := harness.StartReplica(t, "replica", url, folder, dst, repData, "r1", "--metrics", repMetrics)
		waitReplicaLive(t, url, folder, "r1", started, after.lastStateSeq)
		series := scrapeMetrics(t, repMetrics)
		if n := series.sum("jetsync_replica_fetched_bytes_total"); n != 0 {
			t.Errorf("the upgraded replica fetched %v bytes; it had everything", n)
		}
		if n := series.sum("jetsync_replica_content_total"); n != 0 {
			t.Errorf("the upgraded replica looked for %v chunks (source_ok: %v); it had everything",
				n, series.sum("jetsync_replica_content_total", `result="source_ok"`))
		}
		if lines := harness.GrepLines(replica.LastRunLog(), "reconciling against the full published state"); lines != "" {
			t.Errorf("the upgraded replica reconciled; its position should have stayed valid:\n%s", lines)
		}
		if ok, diff := harness.SameTree(t, src, dst); !ok {
			t.Errorf("the replica's tree changed in the upgrade: %s", diff)
		}
		if res := harness.Verify(t, url, folder, dst); res.Code != 0 {
			t.Errorf("jetsync verify after the upgrade: %s", res)
		}
	})
	if t.Failed() {
		harness.FailWithLogs(t, "the upgrade went wrong")
	}

	const live = "live/after the upgrade.bin"
	liveSize := 6<<20 + 321
	harness.Phase(t, "live change after the upgrade", func() {
		harness.Must(t, os.MkdirAll(filepath.Join(src, "live"), 0o755))
		harness.Must(t, os.WriteFile(filepath.Join(src, live), treegen.Random(liveSize, 77), 0o644))
		harness.Converge(t, convergeTimeout, url, folder, src, dst)
		series := scrapeMetrics(t, repMetrics)
		fetched := series.sum("jetsync_replica_content_total", `result="cache_hit"`) +
			series.sum("jetsync_replica_content_total", `result="source_ok"`)
		if fetched == 0 || series.sum("jetsync_replica_fetched_bytes_total") < float64(liveSize)/2 {
			t.Errorf("the new file arrived but the replica counts %v chunks and %v bytes fetched from the cache or the source",
				fetched, series.sum("jetsync_replica_fetched_bytes_total"))
		}
		// What the next phase relies on: the change is published in the
		// new format.
		if v := recordVersion(t, harness.DialJetStream(t, url), folder, live); v != wire.RecordVersion {
			t.Fatalf("the state record of %s is of version %d, want %d", live, v, wire.RecordVersion)
		}
	})

	harness.Phase(t, "the broker refuses a replica left on the previous release", func() {
		// It has no credentials the upgraded broker admits.
		harness.Must(t, stale.Start())
		waitLastRunLog(t, 30*time.Second, stale, "Authorization Violation")
		_ = stale.Stop() // whether it gave up already does not matter
		checkStaleTree(t, src, staleDst, live)
	})

	harness.Phase(t, "a replica left on the previous release meets the new format", func() {
		// On a broker that admits it (an external one it has credentials
		// for; here the embedded one, insecure), it reads the folder meta
		// before any record, of version 2 now: it stops there.
		harness.Must(t, broker.Stop())
		harness.StartBroker(t, brokerData, addr, "--insecure")
		harness.Must(t, stale.Start())
		waitLastRunLog(t, 30*time.Second, stale, "unsupported message version: meta 2")
		harness.Must(t, stale.Stop())
		checkStaleTree(t, src, staleDst, live)
	})

	harness.Phase(t, "a fresh replica of the previous release applies nothing", func() {
		// It reads the folder meta before any record: the version says
		// it cannot follow this folder, so it applies nothing at all.
		freshDst := filepath.Join(dir, "fresh-old-dst")
		fresh := old.StartReplica(t, "fresh-old-replica", url, folder, freshDst, filepath.Join(dir, "fresh-old-replica-data"), "r-old")
		waitLastRunLog(t, 30*time.Second, fresh, "unsupported message version: meta 2")
		harness.Must(t, fresh.Stop())
		if n := harness.CountFiles(freshDst); n != 0 {
			t.Errorf("the fresh replica of the previous release applied %d paths of a folder it cannot follow", n)
		}
	})
}

// checkStaleTree checks that the replica of the previous release kept the
// tree it had: all but the live change.
func checkStaleTree(t *testing.T, src, staleDst, live string) {
	t.Helper()
	diffs, err := treegen.Compare(src, staleDst)
	harness.Must(t, err)
	for _, d := range diffs {
		if !strings.Contains(d, `"live"`) && !strings.Contains(d, `"live/`) {
			t.Errorf("the replica of the previous release changed its tree: %s", d)
		}
	}
	if _, err := os.Lstat(filepath.Join(staleDst, live)); err == nil {
		t.Errorf("the replica of the previous release created %s from a record it cannot read", live)
	}
}

// convergeWith waits until dst equals src and binary b's `jetsync verify`
// exits 0 on it.
func convergeWith(t *testing.T, b harness.Binary, url, folder, src, dst string) {
	t.Helper()
	harness.Eventually(t, convergeTimeout, func() (bool, string) {
		if ok, diff := harness.SameTree(t, src, dst); !ok {
			return false, diff
		}
		if res := b.Verify(t, url, folder, dst); res.Code != 0 {
			return false, "trees equal but jetsync verify: " + res.String()
		}
		return true, ""
	})
}

// treeSize counts the paths under root (itself excluded) and the bytes of
// its regular files.
func treeSize(t *testing.T, root string) (paths int, size int64) {
	t.Helper()
	harness.Must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		paths++
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		return nil
	}))
	return paths, size
}

// streamState is what the test records of a folder's state stream.
type streamState struct {
	subjects     []string // configured
	created      time.Time
	msgs, bytes  uint64
	chunkMsgs    uint64 // messages on jetsync.F.c.*
	stateMsgs    uint64 // messages on jetsync.F.s.*
	lastStateSeq uint64 // sequence of the newest of them
}

func (s streamState) String() string {
	return fmt.Sprintf("subjects %q, created %s, %d messages (%d chunks, %d states, newest state at %d), %d bytes",
		s.subjects, s.created.Format(time.RFC3339Nano), s.msgs, s.chunkMsgs, s.stateMsgs, s.lastStateSeq, s.bytes)
}

func readStream(t *testing.T, js jetstream.JetStream, folder string) streamState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "JETSYNC_"+folder)
	harness.Must(t, err)
	// Every subject the stream holds a message on, with its count.
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
	harness.Must(t, err)
	s := streamState{subjects: info.Config.Subjects, created: info.Created,
		msgs: info.State.Msgs, bytes: info.State.Bytes}
	for subj, n := range info.State.Subjects {
		switch {
		case strings.HasPrefix(subj, "jetsync."+folder+".c."):
			s.chunkMsgs += n
		case strings.HasPrefix(subj, "jetsync."+folder+".s."):
			s.stateMsgs += n
		}
	}
	if m, err := st.GetLastMsgForSubject(ctx, "jetsync."+folder+".s.>"); err == nil {
		s.lastStateSeq = m.Sequence
	} else {
		t.Fatalf("newest state record of %s: %v", folder, err)
	}
	return s
}

// recordVersion returns the version of the state record of path.
func recordVersion(t *testing.T, js jetstream.JetStream, folder, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "JETSYNC_"+folder)
	harness.Must(t, err)
	m, err := st.GetLastMsgForSubject(ctx, wire.StateSubject(folder, path))
	harness.Must(t, err)
	// The record's JSON is its first line.
	line, _, _ := bytes.Cut(m.Data, []byte("\n"))
	var head struct {
		V    int    `json:"v"`
		Path string `json:"path"`
	}
	if err := json.Unmarshal(line, &head); err != nil || head.Path != path {
		t.Fatalf("state record of %s: path %q, %v", path, head.Path, err)
	}
	return head.V
}

// streamStoreBytes is what the broker's file store of stream takes on disk
// under the broker's data directory.
func streamStoreBytes(t *testing.T, brokerData, stream string) int64 {
	t.Helper()
	var size int64
	found := false
	harness.Must(t, filepath.WalkDir(brokerData, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == stream && filepath.Base(filepath.Dir(p)) == "streams" {
			found = true
			return filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				fi, err := d.Info()
				if err == nil {
					size += fi.Size()
				}
				return err
			})
		}
		return nil
	}))
	if !found {
		t.Fatalf("no store of stream %s under %s", stream, brokerData)
	}
	return size
}

// waitReplicaLive waits until `jetsync status` shows replica id, in a
// report it wrote after since, live with nothing pending and everything
// up to seq applied.
func waitReplicaLive(t *testing.T, url, folder, id string, since time.Time, seq uint64) {
	t.Helper()
	harness.Eventually(t, convergeTimeout, func() (bool, string) {
		res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--folder", folder, "--json", "--log-format", "text")
		if res.Code != 0 {
			return false, "jetsync status: " + res.String()
		}
		var folders []struct {
			Replicas []struct {
				ID         string `json:"id"`
				State      string `json:"state"`
				AppliedSeq uint64 `json:"applied_seq"`
				Pending    uint64 `json:"pending"`
				Updated    int64  `json:"updated"`
			} `json:"replicas"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &folders); err != nil {
			return false, fmt.Sprintf("jetsync status --json does not parse: %v\n%s", err, res.Stdout)
		}
		for _, f := range folders {
			for _, r := range f.Replicas {
				if r.ID != id {
					continue
				}
				if r.Updated > since.UnixNano() && r.State == "live" && r.Pending == 0 && r.AppliedSeq >= seq {
					return true, ""
				}
				return false, fmt.Sprintf("replica %s: %+v, want a report since %s, live, nothing pending, applied up to %d",
					id, r, since.Format(time.TimeOnly), seq)
			}
		}
		return false, "no status of replica " + id + " yet"
	})
}

// metricSeries are the series of a Prometheus text endpoint: name and
// labels, as printed, to value.
type metricSeries map[string]float64

// scrapeMetrics reads the /metrics endpoint at addr, waiting until it
// answers.
func scrapeMetrics(t *testing.T, addr string) metricSeries {
	t.Helper()
	var series metricSeries
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		body, err := httpGet("http://" + addr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		series = metricSeries{}
		for _, line := range strings.Split(body, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				continue
			}
			var v float64
			if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
				series[line[:i]] = v
			}
		}
		return true, ""
	})
	return series
}

func httpGet(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// sum adds up the series of name whose labels include every one of
// labels (each written as printed, e.g. `result="source_ok"`).
func (s metricSeries) sum(name string, labels ...string) float64 {
	var total float64
	for series, v := range s {
		base, lbls, _ := strings.Cut(series, "{")
		if base != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(lbls, l)
		}
		if ok {
			total += v
		}
	}
	return total
}

// waitLastRunLog waits until the log of the daemon's latest start contains
// want.
func waitLastRunLog(t *testing.T, timeout time.Duration, p *harness.Proc, want string) {
	t.Helper()
	harness.Eventually(t, timeout, func() (bool, string) {
		if strings.Contains(p.LastRunLog(), want) {
			return true, ""
		}
		return false, fmt.Sprintf("%s has not logged %q since its last start", p.Name(), want)
	})
}
