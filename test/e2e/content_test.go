package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// bigPullSize is the file a replica is pulling when its source dies:
// random, so that every byte crosses the broker uncompressed, and big
// enough that the pull is still under way when the test notices it.
const bigPullSize = 200 << 20

// killAtAssembled is how much of the big file the replica must have
// written to its temp file before the source is killed: enough to show
// the pull is running, little enough to leave most of it to do.
const killAtAssembled = 4 << 20

// TestSourceKilledWhileReplicaPulls: a source killed with SIGKILL while a
// replica pulls a big file from it leaves the replica waiting for the
// source, with nothing partial under the file's name; once the source is
// back, the replica completes the file and converges.
func TestSourceKilledWhileReplicaPulls(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "pull-kill-e2e"
	const big = "media/big.bin"
	bigSum := writeRandomFile(t, filepath.Join(src, filepath.FromSlash(big)), 20260601, bigPullSize)
	// Small files travel inline in their records: only the big one is
	// pulled from the source.
	harness.WriteFile(t, filepath.Join(src, "README.txt"), "a big file and a few small ones\n", 0o644)
	harness.WriteFile(t, filepath.Join(src, "docs/notes.txt"), strings.Repeat("notes line\n", 500), 0o644)
	harness.WriteFile(t, filepath.Join(src, "docs/private.txt"), "private\n", 0o600)
	harness.WriteFile(t, filepath.Join(src, "media/small.bin"), string(randomBytes(7, 20<<10)), 0o644)

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	repMetrics := harness.FreeAddr(t)
	harness.StartBroker(t, filepath.Join(root, "broker"), addr)
	source := harness.StartSource(t, "source", url, folder, src, filepath.Join(root, "source-data"))
	harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1",
		"--metrics", repMetrics)

	final := filepath.Join(dst, filepath.FromSlash(big))
	var lateKill bool // the replica had the whole file before the kill
	harness.Phase(t, "kill the source mid-pull", func() {
		// The replica's counters of fetched bytes move only once a whole
		// file is applied; the temp file it assembles the content in
		// shows the progress of this one.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if err := harness.CheckAlive(t); err != nil {
				harness.FailWithLogs(t, err.Error())
			}
			if _, err := os.Lstat(final); err == nil {
				lateKill = true
				break
			}
			if tempSize(filepath.Dir(final)) >= killAtAssembled {
				break
			}
			if time.Now().After(deadline) {
				harness.FailWithLogs(t, fmt.Sprintf("the replica did not start pulling %s within 2m", big))
			}
			time.Sleep(10 * time.Millisecond)
		}
		source.Kill9()
		assembled := tempSize(filepath.Dir(final))
		served := harness.ReadMetric(t, repMetrics, "jetsync_replica_content_total", `result="source_ok"`)
		t.Logf("source killed with %.1f of %d MiB of %s in the replica's temp file (%.0f chunks served by the source)",
			float64(assembled)/(1<<20), bigPullSize>>20, big, served)
		if lateKill {
			t.Logf("warning: the replica had the whole of %s before the source was killed; the kill tested little", big)
		}
	})

	harness.Phase(t, "source down", func() {
		// Nothing may appear under the final name but the whole file;
		// unless it is all there, the replica must say it waits for the
		// source, and for that file. It reports after asking 5 times with
		// backoff, and rewrites its status every 2 s; the requests that
		// were in flight to the killed source get no answer at all and
		// fail only when they time out (10 s).
		harness.Eventually(t, time.Minute, func() (bool, string) {
			if wholeOrAbsent(t, final, bigSum, bigPullSize) {
				if !lateKill {
					lateKill = true
					t.Logf("warning: %s completed after the kill: the replica had received every chunk before it", big)
				}
				return true, ""
			}
			return waitingFor(t, url, folder, "r1", big)
		})
		// Once more just before the source returns: the failed attempts
		// that led to the report must not have left anything behind.
		wholeOrAbsent(t, final, bigSum, bigPullSize)
	})

	harness.Phase(t, "source back", func() {
		harness.Must(t, source.Start())
		// Converge requires the trees equal and `jetsync verify` to exit 0.
		harness.Converge(t, 3*time.Minute, url, folder, src, dst)
		if n := harness.CountTemps(dst); n > 0 {
			t.Errorf("%d temp files left in %s after the replica converged", n, dst)
		}
	})
}

// TestSourceDownCachedAndUncachedChanges: a live change (A) goes to the
// content cache, so a replica that was away applies it while the source
// is down; a change the source found by the scan after its restart (B)
// does not, so the replica waits for the source, says so in its status,
// and applies it once the source is back.
func TestSourceDownCachedAndUncachedChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "cache-e2e"
	harness.WriteFile(t, filepath.Join(src, "README.txt"), "a small tree\n", 0o644)
	harness.WriteFile(t, filepath.Join(src, "docs/notes.txt"), strings.Repeat("notes line\n", 300), 0o644)
	harness.Must(t, os.MkdirAll(filepath.Join(src, "changes"), 0o755))
	writeRandomFile(t, filepath.Join(src, "data/several-chunks.bin"), 3, 300<<10)

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	repMetrics := harness.FreeAddr(t)
	harness.StartBroker(t, filepath.Join(root, "broker"), addr)
	source := harness.StartSource(t, "source", url, folder, src, filepath.Join(root, "source-data"))
	replica := harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1",
		"--metrics", repMetrics)
	harness.Converge(t, 2*time.Minute, url, folder, src, dst)
	js := harness.DialJetStream(t, url)

	// Both files are over wire.InlineSize, so they are chunked, not inline. Each
	// is written beside the tree and renamed in, so that the source never
	// sees it half written.
	const pathA, pathB = "changes/live-A.bin", "changes/offline-B.bin"
	dataA, dataB := randomBytes(101, 256<<10), randomBytes(102, 256<<10)
	var recA *wire.Record

	harness.Phase(t, "live change A while the replica is away", func() {
		// Only changes after the source's initial scan go to the cache.
		harness.Eventually(t, time.Minute, func() (bool, string) {
			f, msg := folderReport(t, url, folder)
			if msg != "" {
				return false, msg
			}
			if f.Source == nil || f.Source.State != "live" {
				return false, fmt.Sprintf("source status %+v, want state live", f.Source)
			}
			return true, ""
		})
		harness.Must(t, replica.Stop())
		placeFile(t, root, src, pathA, dataA)
		recA = waitRecord(t, js, folder, pathA, dataA)
		if !recA.Cached {
			t.Fatalf("the record of %s, a live change, does not say cached: %+v", pathA, recA)
		}
		if missing := notCached(t, js, folder, recA.Chunks); len(missing) > 0 {
			t.Fatalf("%d of the %d chunks of %s are not in the content cache %s: %v",
				len(missing), len(recA.Chunks), pathA, wire.CacheStreamName(folder), missing)
		}
		if n := cacheMessages(t, js, folder); n == 0 {
			t.Fatalf("content cache %s holds no messages after a live change", wire.CacheStreamName(folder))
		}
	})

	harness.Phase(t, "change B while the source is down", func() {
		harness.Must(t, source.Stop())
		placeFile(t, root, src, pathB, dataB)
		harness.Must(t, source.Start())
		recB := waitRecord(t, js, folder, pathB, dataB)
		// The scan after a restart publishes without the cache: B exists
		// nowhere but on the source's disk.
		if recB.Cached {
			t.Errorf("the record of %s, found by the scan after a restart, says cached", pathB)
		}
		if missing := notCached(t, js, folder, recB.Chunks); len(missing) != len(recB.Chunks) {
			t.Fatalf("%d of the %d chunks of %s are in the content cache; the test needs them only on the source",
				len(recB.Chunks)-len(missing), len(recB.Chunks), pathB)
		}
		// The restart must not have replaced A's record by one that sends
		// replicas to the source.
		if rec := waitRecord(t, js, folder, pathA, dataA); !rec.Cached {
			t.Errorf("after the source's restart, the record of %s no longer says cached", pathA)
		}
		source.Kill9()
	})

	harness.Phase(t, "replica back while the source is down", func() {
		harness.Must(t, replica.Start())
		dstA, dstB := filepath.Join(dst, filepath.FromSlash(pathA)), filepath.Join(dst, filepath.FromSlash(pathB))
		absentB := func() {
			if _, err := os.Lstat(dstB); err == nil {
				harness.FailWithLogs(t, fmt.Sprintf("%s reached the replica while the source was down; its content was nowhere else", pathB))
			}
		}
		harness.Eventually(t, time.Minute, func() (bool, string) {
			absentB()
			got, err := os.ReadFile(dstA)
			if err != nil {
				return false, err.Error()
			}
			if !bytes.Equal(got, dataA) {
				return false, fmt.Sprintf("%s on the replica: %d bytes, not the source's content", pathA, len(got))
			}
			return true, ""
		})
		harness.Eventually(t, time.Minute, func() (bool, string) {
			absentB()
			return waitingFor(t, url, folder, "r1", pathB)
		})
		absentB()
		hits := harness.ReadMetric(t, repMetrics, "jetsync_replica_content_total", `result="cache_hit"`)
		if hits < float64(len(recA.Chunks)) {
			t.Errorf("replica counts %v chunks taken from the cache, want at least the %d of %s",
				hits, len(recA.Chunks), pathA)
		}
	})

	harness.Phase(t, "source back", func() {
		harness.Must(t, source.Start())
		// Converge requires the trees equal and `jetsync verify` to exit 0.
		harness.Converge(t, 2*time.Minute, url, folder, src, dst)
	})
}

// writeRandomFile writes n deterministic random bytes (math/rand, seeded)
// to path, creating its parents, and returns their SHA-256.
func writeRandomFile(t *testing.T, path string, seed uint64, n int64) [sha256.Size]byte {
	t.Helper()
	harness.Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	harness.Must(t, err)
	h := sha256.New()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	r := io.LimitReader(rand.NewChaCha8(key), n)
	_, err = io.Copy(io.MultiWriter(f, h), r)
	harness.Must(t, err)
	harness.Must(t, f.Close())
	return [sha256.Size]byte(h.Sum(nil))
}

// randomBytes returns n deterministic random bytes.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// placeFile writes data beside the tree and renames it to rel under src:
// the source sees the file appear whole.
func placeFile(t *testing.T, root, src, rel string, data []byte) {
	t.Helper()
	tmp := filepath.Join(root, "staging-"+filepath.Base(rel))
	harness.Must(t, os.WriteFile(tmp, data, 0o644))
	harness.Must(t, os.Rename(tmp, filepath.Join(src, filepath.FromSlash(rel))))
}

// tempSize is the size of the largest replica temp file in dir, 0 if
// there is none.
func tempSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var largest int64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), wire.TempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size() > largest {
			largest = fi.Size()
		}
	}
	return largest
}

// wholeOrAbsent fails the test if the replica shows anything under path
// but the whole content (size and SHA-256 sum): a partial file must never
// be visible under its final name. It reports whether the whole file is
// there.
func wholeOrAbsent(t *testing.T, path string, sum [sha256.Size]byte, size int64) bool {
	t.Helper()
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	harness.Must(t, err)
	if fi.Size() != size {
		harness.FailWithLogs(t, fmt.Sprintf("%s is visible with %d of %d bytes while the source is down", path, fi.Size(), size))
	}
	f, err := os.Open(path)
	harness.Must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	harness.Must(t, err)
	if [sha256.Size]byte(h.Sum(nil)) != sum {
		harness.FailWithLogs(t, fmt.Sprintf("%s is visible with its full size but not the source's content while the source is down", path))
	}
	return true
}

// statusFolder is the part of `jetsync status --json` these tests read.
type statusFolder struct {
	Folder string `json:"folder"`
	Source *struct {
		State string `json:"state"`
	} `json:"source"`
	Replicas []statusReplica `json:"replicas"`
}

type statusReplica struct {
	ID         string  `json:"id"`
	State      string  `json:"state"`
	WaitingFor string  `json:"waiting_for"`
	LagSeconds float64 `json:"lag_seconds"`
}

// folderReport runs `jetsync status --json` for folder; the message says
// why there is no report.
func folderReport(t *testing.T, url, folder string) (statusFolder, string) {
	t.Helper()
	res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--folder", folder, "--json", "--log-format", "text")
	if res.Code != 0 {
		return statusFolder{}, res.String()
	}
	var folders []statusFolder
	if err := json.Unmarshal([]byte(res.Stdout), &folders); err != nil {
		return statusFolder{}, fmt.Sprintf("status --json does not parse: %v\n%s", err, res.Stdout)
	}
	for _, f := range folders {
		if f.Folder == folder {
			return f, ""
		}
	}
	return statusFolder{}, fmt.Sprintf("folder %s not in the status:\n%s", folder, res.Stdout)
}

// replicaReport is the status of replica id of folder.
func replicaReport(t *testing.T, url, folder, id string) (statusReplica, string) {
	t.Helper()
	f, msg := folderReport(t, url, folder)
	if msg != "" {
		return statusReplica{}, msg
	}
	for _, r := range f.Replicas {
		if r.ID == id {
			return r, ""
		}
	}
	return statusReplica{}, fmt.Sprintf("replica %s not in the status of %s: %+v", id, folder, f.Replicas)
}

// waitRecord waits until the state stream holds a record of path whose
// content is data, and returns it.
func waitRecord(t *testing.T, js jetstream.JetStream, folder, path string, data []byte) *wire.Record {
	t.Helper()
	want := wire.Sum(data)
	var rec *wire.Record
	harness.Eventually(t, time.Minute, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, wire.StreamName(folder))
		if err != nil {
			return false, err.Error()
		}
		msg, err := st.GetLastMsgForSubject(ctx, wire.StateSubject(folder, path))
		if err != nil {
			return false, fmt.Sprintf("state of %s: %v", path, err)
		}
		r, err := wire.DecodeRecord(msg.Data)
		if err != nil {
			return false, fmt.Sprintf("state of %s: %v", path, err)
		}
		if r.Type != wire.File || r.Hash != want || r.Size != int64(len(data)) {
			return false, fmt.Sprintf("state of %s is a %s of %d bytes with hash %s, want the file written (%d bytes, %s)",
				path, r.Type, r.Size, r.Hash, len(data), want)
		}
		rec = r
		return true, ""
	})
	return rec
}

// notCached returns the chunks of refs that the folder's content cache
// does not hold.
func notCached(t *testing.T, js jetstream.JetStream, folder string, refs []wire.ChunkRef) []wire.Hash {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, wire.CacheStreamName(folder))
	harness.Must(t, err)
	var missing []wire.Hash
	for _, r := range refs {
		_, err := st.GetLastMsgForSubject(ctx, wire.ChunkSubject(folder, r.Hash))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			missing = append(missing, r.Hash)
		case err != nil:
			t.Fatalf("read chunk %s from the content cache: %v", r.Hash, err)
		}
	}
	return missing
}

// cacheMessages is the number of messages in the folder's content cache.
func cacheMessages(t *testing.T, js jetstream.JetStream, folder string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, wire.CacheStreamName(folder))
	harness.Must(t, err)
	info, err := st.Info(ctx)
	harness.Must(t, err)
	return info.State.Msgs
}

// waitingFor reports whether `jetsync status` shows replica id waiting for
// the source to serve path, and what it shows otherwise.
func waitingFor(t *testing.T, url, folder, id, path string) (bool, string) {
	rep, msg := replicaReport(t, url, folder, id)
	if msg != "" {
		return false, msg
	}
	if rep.State != "waiting-for-source" || rep.WaitingFor != path {
		return false, fmt.Sprintf("replica %s reports state %q waiting_for %q, want %q and %q",
			id, rep.State, rep.WaitingFor, "waiting-for-source", path)
	}
	return true, ""
}
