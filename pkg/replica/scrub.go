package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/verify"
)

// The scrub is the burn-in's proof, run on a schedule (Config.VerifyEvery):
// a full verify of the replica's tree against the published state, every
// byte read and hashed, at most Config.VerifyMaxRate bytes per second. A
// difference on a path whose newer state the replica has not applied yet
// (a change on its way, or a parked record) is not counted: what remains
// is what the replica claims to have and does not. With Config.Repair the
// replica then forgets what it recorded of those paths and reconciles,
// which fetches them again and removes what should not exist, keeping
// everything else it has.

// Scrub is the outcome of a scrub (or a repair's verify).
type Scrub struct {
	Time      time.Time     `json:"time"` // when it ended
	Duration  time.Duration `json:"duration"`
	Equal     bool          `json:"equal"`
	Diffs     int           `json:"diffs"` // differences the replica cannot explain
	Entries   int64         `json:"entries"`
	Files     int64         `json:"files"`
	Bytes     int64         `json:"bytes"`
	StreamSeq uint64        `json:"stream_seq"` // the published state it compared with
	First     []verify.Diff `json:"first,omitempty"`
	Repairing bool          `json:"repairing,omitempty"` // a reconcile was asked to fix them
	Error     string        `json:"error,omitempty"`     // the scrub could not be done
}

// scrubShown is how many differences a scrub keeps to show.
const scrubShown = 10

var keyScrub = []byte("scrub") // the last scrub, JSON, in bucketMeta

func (s *store) lastScrub() (Scrub, error) {
	var sc Scrub
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyScrub)
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &sc)
	})
	return sc, err
}

func (s *store) setScrub(sc Scrub) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyScrub, b) })
}

// forgetPaths drops what the replica recorded of paths, so that the next
// reconcile checks them against the published state by their content.
func (s *store) forgetPaths(paths []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, p := range paths {
			if err := deleteTree(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// scrubLoop runs a scrub every cfg.VerifyEvery, the first one that long
// after the last one recorded (or after the first sync).
func (r *Replica) scrubLoop(ctx context.Context) {
	last := r.Progress().LastVerify
	for {
		wait := time.Until(last.Time.Add(r.cfg.VerifyEvery))
		if last.Time.IsZero() {
			wait = 0
		}
		if !sleepUntilReconciled(ctx, &r.prog, wait) {
			return
		}
		last = r.Scrub(ctx, r.cfg.Repair)
		if ctx.Err() != nil {
			return
		}
	}
}

// sleepUntilReconciled waits d, then until the replica has a valid
// position; false when ctx ended.
func sleepUntilReconciled(ctx context.Context, p *progress, d time.Duration) bool {
	sleep(ctx, d)
	for ctx.Err() == nil && !p.reconciled.Load() {
		sleep(ctx, time.Second)
	}
	return ctx.Err() == nil
}

// Scrub verifies the replica's tree now and records the outcome; with
// repair, the differences found are fetched again by a reconcile.
func (r *Replica) Scrub(ctx context.Context, repair bool) Scrub {
	start := time.Now()
	r.log.Info("verifying the replica against the published state", "max_rate", r.cfg.VerifyMaxRate)
	sc, paths, err := r.scrub(ctx)
	sc.Time, sc.Duration = time.Now(), time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return sc
		}
		sc.Error = err.Error()
		r.log.Error("verify failed", "err", err)
	} else if sc.Equal {
		r.log.Info("verify: the replica equals the published state", "files", sc.Files, "bytes", sc.Bytes,
			"seq", sc.StreamSeq, "took", sc.Duration.Round(time.Millisecond))
	} else {
		r.log.Warn("verify: the replica differs from the published state", "diffs", sc.Diffs, "first", sc.First[0].Path,
			"kind", sc.First[0].Kind, "repair", repair)
		if repair {
			if err := r.requestRepair(paths); err != nil {
				sc.Error = err.Error()
			} else {
				sc.Repairing = true
			}
		}
	}
	if err := r.store.setScrub(sc); err != nil {
		r.log.Warn("record the verify", "err", err)
	}
	r.noteScrub(sc)
	return sc
}

// scrub runs the verify and keeps the differences the replica cannot
// explain; paths are theirs.
func (r *Replica) scrub(ctx context.Context) (Scrub, []string, error) {
	rep, err := verify.Verify(ctx, r.js, verify.Options{Folder: r.cfg.Folder, Root: r.cfg.Root, Logger: r.log,
		MaxRate: r.cfg.VerifyMaxRate, Ignore: r.scrubIgnores(), SourceKey: r.cfg.SourceKey, Encryption: r.cfg.Encryption})
	if err != nil {
		return Scrub{}, nil, err
	}
	sc := Scrub{Entries: rep.Entries, Files: rep.Files, Bytes: rep.Bytes, StreamSeq: rep.StreamSeq}
	stream, err := bus.OpenStream(ctx, r.js, r.cfg.Folder)
	if err != nil {
		return sc, nil, err
	}
	applied := min(rep.StreamSeq, r.prog.cursor.Load())
	var paths []string
	for _, d := range rep.Diffs {
		explained, err := r.onItsWay(ctx, stream, d, applied)
		if err != nil {
			return sc, nil, err
		}
		if explained {
			continue
		}
		sc.Diffs++
		paths = append(paths, d.Path)
		if len(sc.First) < scrubShown {
			sc.First = append(sc.First, d)
		}
	}
	sc.Equal = sc.Diffs == 0 && !rep.Truncated
	if rep.Truncated && sc.Diffs == 0 {
		// Every difference listed was explained, and there were more.
		return sc, nil, fmt.Errorf("verify stopped after %d differences, all of them changes on their way; try again", len(rep.Diffs))
	}
	return sc, paths, nil
}

// onItsWay reports whether a difference is a change the replica has not
// applied yet: the path's latest state is newer than what it applied, or
// it is parked. A state record that cannot be read is the broker's
// problem, counted where it is read, not the replica's.
func (r *Replica) onItsWay(ctx context.Context, stream jetstream.Stream, d verify.Diff, applied uint64) (bool, error) {
	if d.Kind == verify.KindMalformed {
		return true, nil
	}
	msg, err := stream.GetLastMsgForSubject(ctx, r.keys.StateSubject(r.cfg.Folder, d.Path))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return false, fmt.Errorf("read the state of %s: %w", d.Path, err)
	case msg.Sequence > applied:
		return true, nil
	}
	return r.store.isParked(d.Path), nil
}

// requestRepair forgets what the replica recorded of paths and asks the
// running session to reconcile.
func (r *Replica) requestRepair(paths []string) error {
	if err := r.store.forgetPaths(paths); err != nil {
		return fmt.Errorf("forget the differing paths: %w", err)
	}
	select {
	case r.repair <- len(paths):
	default: // one is already asked for
	}
	return nil
}

// noteScrub shows sc in the status and the metrics.
func (r *Replica) noteScrub(sc Scrub) {
	r.prog.setScrub(sc)
	if sc.Time.IsZero() {
		return
	}
	r.metrics.verifyTime.Set(float64(sc.Time.Unix()))
	r.metrics.verifyDiffs.Set(float64(sc.Diffs))
	r.metrics.verifyDuration.Set(sc.Duration.Seconds())
	equal := 0.0
	if sc.Equal {
		equal = 1
	}
	r.metrics.verifyEqual.Set(equal)
}

// Repair verifies the replica now, with its daemon stopped, and fetches
// again what differs: it forgets what it recorded of those paths and runs
// a reconcile (which also removes what should not exist) until the
// replica is in sync, then verifies again. before and after are the two
// verifies; the replica keeps everything else it has.
func (r *Replica) Repair(ctx context.Context) (before, after Scrub, err error) {
	defer r.close()
	pos, err := r.store.position()
	if err != nil {
		return before, after, err
	}
	r.prog.setPosition(pos.Cursor)
	before, paths, err := r.scrub(ctx)
	if err != nil {
		return before, after, err
	}
	if before.Equal {
		return before, before, nil
	}
	if err := r.store.forgetPaths(paths); err != nil {
		return before, after, fmt.Errorf("forget the differing paths: %w", err)
	}
	pos.Cursor = 0 // reconcile at the start of the run
	if err := r.store.setPosition(pos); err != nil {
		return before, after, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.run(rctx) }()
	for rctx.Err() == nil {
		if p := r.Progress(); p.Reconciled && p.Settled {
			break
		}
		sleep(rctx, 200*time.Millisecond)
	}
	after, _, err = r.scrub(ctx)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return before, after, err
}

// scrubIgnores leaves out of a scheduled verify what this replica does
// not keep on purpose or cannot (counted in attrs_skipped_total instead):
// owners when it does not set them, NFSv4 ACLs where there are none.
func (r *Replica) scrubIgnores() []string {
	var ig []string
	if !r.attrs.OwnersApplied() {
		ig = append(ig, "owners")
	}
	if runtime.GOOS != "freebsd" {
		ig = append(ig, "acls")
	}
	return ig
}
