package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// tombstoneTTL is the --tombstone-ttl of TestReplicaBehindRetention; the
// replica stays away for more than twice as long.
const tombstoneTTL = 2 * time.Second

// replicaCheckInterval is how often a replica checks that its position is
// still valid (replica.Config.CheckInterval's default).
const replicaCheckInterval = 10 * time.Second

// settleTimeout is how long a replica may take, after logging that its
// reconcile is done, to equal the source.
const settleTimeout = 6 * time.Second

// TestReplicaBehindRetention stops a replica, changes and deletes files
// and a directory tree on the source, and keeps the replica away until the
// broker has dropped the tombstones (--tombstone-ttl). On restart the
// replica must notice that it was behind for longer than tombstones live
// and reconcile, deleting the paths it never saw a tombstone for. The
// control runs the same scenario without a TTL: the tombstones are still
// there, the replica applies them and does not need to reconcile.
func TestReplicaBehindRetention(t *testing.T) {
	t.Parallel()
	t.Run("ttl", func(t *testing.T) {
		t.Parallel()
		behindRetention(t, true)
	})
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		behindRetention(t, false)
	})
}

func behindRetention(t *testing.T, ttl bool) {
	folder := "behind-control"
	var sourceArgs []string
	if ttl {
		folder = "behind-ttl"
		sourceArgs = []string{"--tombstone-ttl", tombstoneTTL.String()}
	}
	r := newRig(t, folder)
	harness.Phase(t, "generate and initial sync", func() {
		harness.Must(t, treegen.Generate(r.src, treegen.SmallSpec(303)))
		ownTree(t, r.src, 303)
		r.startAll(sourceArgs...)
		r.converge()
	})

	var deleted []string
	harness.Phase(t, "changes while the replica is away", func() {
		harness.Must(t, r.replica.Stop())
		deleted = changeOwnTree(t, r.src, 303)
		// The source has published everything when its state verifies
		// against its own tree.
		harness.Eventually(t, convergeTimeout, func() (bool, string) {
			res := harness.Verify(t, r.url, r.folder, r.src)
			return res.Code == 0, "published state differs from the source tree: " + res.String()
		})
	})
	published := time.Now()

	harness.Phase(t, "stay away longer than the tombstone TTL", func() {
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			if since := time.Since(published); since < 2*tombstoneTTL+500*time.Millisecond {
				return false, fmt.Sprintf("only %s since the deletes were published", since.Round(time.Millisecond))
			}
			// A connection of its own each time: one the broker dropped
			// while taking in new credentials must not fail the phase.
			js := harness.DialJetStream(t, r.url)
			var bad []string
			for _, p := range deleted {
				present, err := tombstoneOnBroker(js, r.folder, p)
				if err != nil {
					return false, err.Error()
				}
				if present == ttl {
					bad = append(bad, p)
				}
			}
			if len(bad) > 0 {
				if ttl {
					return false, "tombstones not expired yet: " + strings.Join(bad, ", ")
				}
				return false, "tombstones missing without a TTL: " + strings.Join(bad, ", ")
			}
			return true, ""
		})
		if !ttl {
			return
		}
		// The stale replica tree, checked against the state the broker has
		// now, shows why a replay cannot work: nothing says these paths
		// are gone.
		res := harness.Verify(t, r.url, r.folder, r.dst)
		if res.Code == 0 {
			t.Fatalf("jetsync verify passes on the stale replica tree: %s", res)
		}
	})

	var back time.Time
	harness.Phase(t, "replica comes back", func() {
		harness.Must(t, r.replica.Start())
		back = time.Now()
		if ttl {
			// Once its reconcile is done the replica must equal the source
			// promptly, directory mtimes included: well before its next
			// periodic position check (every 10 s), which would start
			// another reconcile and could hide a stale directory.
			harness.Eventually(t, convergeTimeout, func() (bool, string) {
				return strings.Contains(r.replica.LastRunLog(), `msg="reconcile done"`), "the replica has not finished a reconcile"
			})
			harness.Converge(t, settleTimeout, r.url, r.folder, r.src, r.dst)
		}
		r.converge()
		mustAbsent(t, r.dst, deleted)
		last := r.replica.LastRunLog()
		removed := readMetric(t, r.repMetrics, "jetsync_replica_removed_extra_total")
		if ttl {
			if !strings.Contains(last, "behind for longer than the broker keeps tombstones") {
				t.Errorf("the replica did not say it was behind longer than the tombstone TTL:\n%s", harness.FirstLines(last, 30))
			}
			if removed < 1 {
				t.Errorf("jetsync_replica_removed_extra_total = %v after missing every tombstone", removed)
			}
		} else {
			if strings.Contains(last, "reconciling against the full published state") {
				t.Errorf("the replica reconciled although every tombstone was still on the broker:\n%s", harness.FirstLines(last, 30))
			}
			if removed != 0 {
				t.Errorf("jetsync_replica_removed_extra_total = %v; the deletes should have come as tombstones", removed)
			}
		}
		if n := harness.CountTemps(r.dst); n > 0 {
			t.Errorf("%d temp files left in %s", n, r.dst)
		}
	})

	harness.Phase(t, "live and caught up: no more reconciles", func() {
		writeFile(t, r.src, "after return.txt", []byte("written once the replica was back\n"))
		harness.Must(t, os.Remove(filepath.Join(r.src, "plain", "d1", "f09.txt")))
		r.converge()
		// The replica checks its position every 10 s. A replica that is
		// live and caught up has missed no tombstone, whatever the TTL:
		// it must not start over.
		if wait := time.Until(back.Add(replicaCheckInterval + 2*time.Second)); wait > 0 {
			time.Sleep(wait)
		}
		want := 0 // with tombstones kept, no reconcile at all
		if ttl {
			want = 1 // the one for the missed tombstones
		}
		last := r.replica.LastRunLog()
		if n := strings.Count(last, "reconciling against the full published state"); n != want {
			t.Errorf("the replica reconciled %d times since it came back, want %d: live and caught up, it missed nothing:\n%s",
				n, want, harness.FirstLines(harness.GrepLines(last, "reconcil"), 10))
		}
		r.converge()
	})
}

// tombstoneOnBroker reports whether the broker still holds a tombstone as
// the state of path. A path with a live state is an error: it was deleted.
func tombstoneOnBroker(js jetstream.JetStream, folder, path string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, wire.StreamName(folder))
	if err != nil {
		return false, err
	}
	msg, err := st.GetLastMsgForSubject(ctx, wire.StateSubject(folder, path))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state of %s: %w", path, err)
	}
	rec, err := wire.DecodeRecord(msg.Data)
	if err != nil {
		return false, fmt.Errorf("state of %s: %w", path, err)
	}
	if rec.Type != wire.Deleted {
		return false, fmt.Errorf("state of %s is a live %s, want a tombstone or nothing", path, rec.Type)
	}
	return true, nil
}
