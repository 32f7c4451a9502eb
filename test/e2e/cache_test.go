package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// A live burst: burstFiles new files of burstFileSize random bytes each,
// eight times the smallest content cache.
const (
	burstFiles    = 40
	burstFileSize = 1 << 20
)

// TestCacheSmallerThanLiveBurst: a live burst much larger than the content
// cache evicts most of it before a stopped replica comes back. The cache
// stream must stay within the --content-cache bound; the replica must take
// what is left from the cache, ask the source for what was evicted, and
// converge. A replica that starts in the middle of a burst, while the
// cache evicts what it is about to read, must converge as well.
func TestCacheSmallerThanLiveBurst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src, dst, stage := filepath.Join(root, "src"), filepath.Join(root, "dst"), filepath.Join(root, "stage")
	const folder = "cache-burst"
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(41)))
	harness.Must(t, os.MkdirAll(stage, 0o755))

	// The smallest cache the source accepts, rounded up to whole MiB.
	cacheBytes := (int64(bus.MinCacheBytes) + 1<<20 - 1) &^ (1<<20 - 1)
	if burstFiles*burstFileSize < 4*cacheBytes {
		t.Fatalf("a burst of %d bytes would not overflow a cache of %d bytes several times", burstFiles*burstFileSize, cacheBytes)
	}

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	srcMetrics, repMetrics := harness.FreeAddr(t), harness.FreeAddr(t)
	harness.StartBroker(t, filepath.Join(root, "broker"), addr)
	harness.StartSource(t, "source", url, folder, src, filepath.Join(root, "source-data"),
		"--content-cache", fmt.Sprintf("%dMiB", cacheBytes>>20), "--metrics", srcMetrics)
	replica := harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1",
		"--metrics", repMetrics)
	js := harness.DialJetStream(t, url)
	harness.Phase(t, "initial sync", func() {
		harness.Converge(t, 2*time.Minute, url, folder, src, dst)
	})

	harness.Phase(t, "the initial scan bypasses the cache, live changes fill it", func() {
		info := cacheInfo(t, js, folder)
		if info.Config.MaxBytes != cacheBytes {
			t.Errorf("cache MaxBytes = %d, want %d (--content-cache %dMiB)", info.Config.MaxBytes, cacheBytes, cacheBytes>>20)
		}
		if info.State.Msgs != 0 {
			t.Errorf("after the initial scan the cache holds %d messages (%d bytes), want none: replicas pull an initial sync",
				info.State.Msgs, info.State.Bytes)
		}
		// One live change, too big to travel inline: once its chunks are in
		// the cache, the source is past its initial scan and caches the burst.
		harness.Must(t, os.WriteFile(filepath.Join(src, "probe.bin"), treegen.Random(200<<10, 4100), 0o644))
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			info := cacheInfo(t, js, folder)
			return info.State.Msgs > 0, "the cache is still empty after a live change of 200 KiB"
		})
		harness.Converge(t, time.Minute, url, folder, src, dst)
	})

	harness.Phase(t, "burst while the replica is stopped", func() {
		harness.Must(t, replica.Stop())
		before := harness.ReadMetric(t, srcMetrics, "jetsync_source_published_bytes_total")
		harness.Must(t, writeBurst(src, stage, "burst1", 4200, 0, nil))
		waitPublished(t, url, folder, src)
		// The cache got every chunk of the burst (random data is sent raw,
		// so each byte counts once), and kept at most its bound of it.
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			sent := harness.ReadMetric(t, srcMetrics, "jetsync_source_published_bytes_total") - before
			return sent >= burstFiles*burstFileSize, fmt.Sprintf("%.0f bytes of the %d of the burst sent to the cache", sent, burstFiles*burstFileSize)
		})
		checkCacheBound(t, js, folder, cacheBytes)
	})

	harness.Phase(t, "replica catches up from cache and source", func() {
		harness.Must(t, replica.Start())
		harness.Converge(t, 2*time.Minute, url, folder, src, dst)
		// The counters start from zero with each run of the replica: these
		// are the catch-up's alone.
		series := harness.ScrapeEventually(t, repMetrics)
		hit := harness.Metric(series, "jetsync_replica_content_total", `result="cache_hit"`)
		miss := harness.Metric(series, "jetsync_replica_content_total", `result="cache_miss"`)
		fromSource := harness.Metric(series, "jetsync_replica_content_total", `result="source_ok"`)
		t.Logf("replica content after the burst: cache_hit %.0f, cache_miss %.0f, source_ok %.0f", hit, miss, fromSource)
		if hit == 0 {
			t.Errorf("the replica took nothing from the cache; the newest part of the burst should still be there")
		}
		if miss == 0 || fromSource == 0 {
			t.Errorf("the replica found nothing evicted (cache_miss %.0f) or took nothing from the source (source_ok %.0f); most of the burst was evicted",
				miss, fromSource)
		}
	})

	harness.Phase(t, "replica starts during a burst", func() {
		harness.Must(t, replica.Stop())
		// A paced burst: the replica starts a quarter of the way in and
		// reads records whose cached chunks the rest of the burst evicts.
		midway, finished := make(chan struct{}), make(chan struct{})
		var burstErr error
		go func() {
			defer close(finished)
			burstErr = writeBurst(src, stage, "burst2", 4300, 50*time.Millisecond, func(i int) {
				if i == burstFiles/4 {
					close(midway)
				}
			})
		}()
		// Should the test stop early, the burst ends before the tree is removed.
		t.Cleanup(func() { <-finished })
		select {
		case <-midway:
		case <-finished:
			t.Fatalf("the burst ended before the replica started: %v", burstErr)
		}
		harness.Must(t, replica.Start())
		<-finished
		harness.Must(t, burstErr)
		harness.Converge(t, 2*time.Minute, url, folder, src, dst)
		checkCacheBound(t, js, folder, cacheBytes)
		series := harness.ScrapeEventually(t, repMetrics)
		t.Logf("replica content, started during the burst: cache_hit %.0f, cache_miss %.0f, source_ok %.0f",
			harness.Metric(series, "jetsync_replica_content_total", `result="cache_hit"`),
			harness.Metric(series, "jetsync_replica_content_total", `result="cache_miss"`),
			harness.Metric(series, "jetsync_replica_content_total", `result="source_ok"`))
	})
}

// TestTwoReplicasAtDifferentLag: while one replica is live and changes of
// every kind keep flowing, a second one starts from nothing. Both must end
// equal to the source, and the status must list both.
func TestTwoReplicasAtDifferentLag(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := filepath.Join(root, "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(42)))
	big := []string{"big/a.bin", "big/b.bin", "big/c.bin"}
	for i, rel := range big {
		harness.WriteFile(t, filepath.Join(src, rel), string(treegen.Random((2+i)<<20, uint64(4400+i))), 0o644)
	}
	tr := harness.StartTrio(t, "two-lags", src)
	harness.Phase(t, "initial sync of r1", func() {
		harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst)
	})

	dst2 := filepath.Join(root, "dst2")
	harness.Phase(t, "r2 starts while changes flow", func() {
		stop := make(chan struct{})
		done := make(chan error, 1)
		var changes atomic.Int64
		go func() { done <- churn(src, big, 4500, &changes, stop) }()
		// Should the test stop early, the changes stop before the tree is removed.
		stopChurn := sync.OnceValue(func() error { close(stop); return <-done })
		t.Cleanup(func() { _ = stopChurn() })
		time.Sleep(2 * time.Second)
		atStart := changes.Load()
		r2 := harness.StartReplica(t, "replica2", tr.URL, tr.Folder, dst2, filepath.Join(root, "replica2-data"), "r2")
		// r2 first reconciles against the full published state while the
		// changes go on, then follows them live, behind r1.
		harness.Eventually(t, time.Minute, func() (bool, string) {
			return strings.Contains(r2.LastRunLog(), `msg="reconcile done"`), "r2 has not finished its initial reconcile"
		})
		atReconciled := changes.Load()
		time.Sleep(4 * time.Second)
		harness.Must(t, stopChurn())
		t.Logf("%d live changes in all, %d of them while r2 reconciled; r2 had %d files when they stopped, the source %d",
			changes.Load(), atReconciled-atStart, harness.CountFiles(dst2), harness.CountFiles(src))
		// Converge also runs `jetsync verify` on each and wants exit 0.
		harness.Converge(t, 2*time.Minute, tr.URL, tr.Folder, src, tr.Dst, dst2)
	})

	harness.Phase(t, "status lists both replicas", func() {
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			res := harness.RunCLI(t, 30*time.Second, "status", "--nats", tr.URL, "--folder", tr.Folder, "--json", "--log-format", "text")
			if res.Code != 0 {
				return false, res.String()
			}
			if msg := checkReplicasLive(res.Stdout, tr.Folder, "r1", "r2"); msg != "" {
				return false, msg + "\n" + res.Stdout
			}
			return true, ""
		})
	})
}

// churn changes src until stop is closed: it creates, overwrites, deletes
// and renames files under churn/ (small text ones that travel inline,
// larger random ones that travel as chunks), and now and then rewrites
// 64 KiB in the middle of one of the big files or renames one. big holds
// their paths, relative to src, and follows the renames. It returns how
// changes it has made in count.
func churn(src string, big []string, seed uint64, count *atomic.Int64, stop <-chan struct{}) error {
	r := rand.New(rand.NewPCG(seed, 1))
	at := func(rel string) string { return filepath.Join(src, filepath.FromSlash(rel)) }
	content := func(n int) []byte {
		if r.IntN(4) == 0 {
			return treegen.Random(100<<10+r.IntN(300<<10), seed+uint64(n))
		}
		return treegen.Text(512+r.IntN(40<<10), seed+uint64(n))
	}
	var live []string // churn files that exist now
	for n := 0; ; n++ {
		select {
		case <-stop:
			return nil
		case <-time.After(30 * time.Millisecond):
		}
		var err error
		switch op := r.IntN(10); {
		case op < 4 || len(live) < 5: // create
			rel := fmt.Sprintf("churn/d%d/f%04d.dat", r.IntN(5), n)
			if err = os.MkdirAll(filepath.Dir(at(rel)), 0o755); err == nil {
				err = os.WriteFile(at(rel), content(n), 0o644)
			}
			live = append(live, rel)
		case op < 6: // overwrite
			err = os.WriteFile(at(live[r.IntN(len(live))]), content(n), 0o644)
		case op < 7: // delete
			i := r.IntN(len(live))
			err = os.Remove(at(live[i]))
			live = slices.Delete(live, i, i+1)
		case op < 9: // rename, maybe to another directory
			i := r.IntN(len(live))
			rel := fmt.Sprintf("churn/d%d/renamed-%04d.dat", r.IntN(5), n)
			err = os.Rename(at(live[i]), at(rel))
			live[i] = rel
		case n%2 == 0: // edit the middle of a big file in place
			err = overwriteMiddle(at(big[r.IntN(len(big))]), treegen.Random(64<<10, seed+uint64(n)))
		default: // rename a big file
			i := r.IntN(len(big))
			rel := fmt.Sprintf("big/moved-%04d.bin", n)
			err = os.Rename(at(big[i]), at(rel))
			big[i] = rel
		}
		if err != nil {
			return fmt.Errorf("live change %d: %w", n, err)
		}
		count.Add(1)
	}
}

// overwriteMiddle writes b over the middle of the file at path, size kept.
func overwriteMiddle(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(b, max(fi.Size()/2-int64(len(b))/2, 0))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeBurst writes burstFiles files of burstFileSize random bytes as
// src/dir/f000.bin and on, pausing every between them and calling
// written (if not nil) after each. Each file is written whole in stage and
// renamed into the tree, so the source reads each one once, complete.
func writeBurst(src, stage, dir string, seed uint64, every time.Duration, written func(i int)) error {
	if err := os.MkdirAll(filepath.Join(src, dir), 0o755); err != nil {
		return err
	}
	for i := range burstFiles {
		name := fmt.Sprintf("f%03d.bin", i)
		tmp := filepath.Join(stage, dir+"-"+name)
		if err := os.WriteFile(tmp, treegen.Random(burstFileSize, seed+uint64(i)), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(src, dir, name)); err != nil {
			return err
		}
		if written != nil {
			written(i + 1)
		}
		time.Sleep(every)
	}
	return nil
}

// waitPublished waits until the published state equals the source's tree.
func waitPublished(t *testing.T, url, folder, src string) {
	t.Helper()
	harness.Eventually(t, time.Minute, func() (bool, string) {
		res := harness.Verify(t, url, folder, src)
		return res.Code == 0, "the published state differs from the source tree: " + res.String()
	})
}

// checkCacheBound fails the test unless the folder's content cache is
// configured with MaxBytes bound, holds at most that, and has evicted
// some of what it got.
func checkCacheBound(t *testing.T, js jetstream.JetStream, folder string, bound int64) {
	t.Helper()
	info := cacheInfo(t, js, folder)
	t.Logf("cache %s: %d messages, %d bytes, sequences %d to %d, MaxBytes %d",
		info.Config.Name, info.State.Msgs, info.State.Bytes, info.State.FirstSeq, info.State.LastSeq, info.Config.MaxBytes)
	if info.Config.MaxBytes != bound {
		t.Errorf("cache MaxBytes = %d, want %d", info.Config.MaxBytes, bound)
	}
	if int64(info.State.Bytes) > bound {
		t.Errorf("cache holds %d bytes, above its bound of %d", info.State.Bytes, bound)
	}
	if info.State.Msgs == 0 || info.State.FirstSeq <= 1 {
		t.Errorf("cache holds %d messages from sequence %d: a burst of %d bytes into %d should have left the newest and evicted the oldest",
			info.State.Msgs, info.State.FirstSeq, burstFiles*burstFileSize, bound)
	}
}

// cacheInfo reads the folder's content cache stream, by the name the
// protocol gives it.
func cacheInfo(t *testing.T, js jetstream.JetStream, folder string) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "JETSYNC-CACHE_"+folder)
	harness.Must(t, err)
	info, err := s.Info(ctx)
	harness.Must(t, err)
	return info
}

// checkReplicasLive returns what is wrong with the JSON status of folder
// unless it lists exactly the replicas ids, each live and applied up to
// the end of the state stream; "" if nothing is.
func checkReplicasLive(out, folder string, ids ...string) string {
	var folders []struct {
		Folder string `json:"folder"`
		Stream struct {
			LastSeq uint64 `json:"last_seq"`
		} `json:"stream"`
		Replicas []struct {
			ID         string `json:"id"`
			State      string `json:"state"`
			AppliedSeq uint64 `json:"applied_seq"`
		} `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(out), &folders); err != nil {
		return fmt.Sprintf("status --json does not parse: %v", err)
	}
	for _, f := range folders {
		if f.Folder != folder {
			continue
		}
		var got []string
		for _, r := range f.Replicas {
			got = append(got, r.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			return fmt.Sprintf("replicas %q reported, want %q", got, ids)
		}
		for _, r := range f.Replicas {
			if r.State != "live" || r.AppliedSeq != f.Stream.LastSeq {
				return fmt.Sprintf("replica %s is %q at sequence %d, want live at %d", r.ID, r.State, r.AppliedSeq, f.Stream.LastSeq)
			}
		}
		return ""
	}
	return fmt.Sprintf("folder %s not in the status", folder)
}
