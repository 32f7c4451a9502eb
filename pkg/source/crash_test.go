package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// publishRaw puts a record on the broker behind the source's back, as a
// publish whose ack never reached the index would have.
func (f *fixture) publishRaw(rec wire.Record) {
	f.t.Helper()
	rec.Epoch, rec.Time = f.meta().Epoch, time.Now().UnixNano()
	b, err := wire.EncodeRecord(&rec)
	must(f.t, err)
	_, err = f.js.Publish(context.Background(), wire.StateSubject(f.folder, rec.Path), b)
	must(f.t, err)
}

// TestUnrecordedTailIsSuperseded: records the broker stored after the
// index's last acknowledged sequence (a source killed between a broker ack
// and its index commit) are examined again at start, so none of them
// survives as a stale state.
func TestUnrecordedTailIsSuperseded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a": file("alpha"), "keep/": dir()}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	r.stop(t)

	// What a killed run left behind: a directory it published and removed
	// before committing either, and a tombstone of a file that came back.
	f.publishRaw(wire.Record{Path: "ghost", Type: wire.Dir, Mode: 0o755})
	f.publishRaw(wire.Record{Path: "a", Type: wire.Deleted})
	// and a state of the folder root that is not the root's.
	f.publishRaw(wire.Record{Path: wire.RootPath, Type: wire.Dir, Mode: 0o700})

	r = f.start()
	r.waitIdle(t)
	f.converged(20 * time.Second)
	if rec := f.record("ghost"); rec == nil || rec.Type != wire.Deleted {
		t.Fatalf("ghost: want a tombstone, got %+v", rec)
	}
	fi, err := os.Stat(f.root)
	must(t, err)
	if rec := f.record(wire.RootPath); rec == nil || rec.Mode != wire.ModeBits(fi.Mode()) {
		t.Fatalf("the root's record: %+v, want its mode %o", rec, wire.ModeBits(fi.Mode()))
	}
}

// TestFailedAckMarksPathUnpublished: a record whose publish failed after
// it was sent may be on the broker. The index must stop vouching for the
// path's older state, so the next look at the path publishes or
// tombstones it whatever it became.
func TestFailedAckMarksPathUnpublished(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"s": link("x")}.create(t, f.root)
	s := f.manual()
	ctx := context.Background()
	must(t, s.fullScan(ctx))
	before, err := s.ix.Get("s")
	must(t, err)

	// "d" was created and published, the connection dropped before the ack
	// and the broker kept the record; "s" got a new target the same way.
	f.publishRaw(wire.Record{Path: "d", Type: wire.Dir, Mode: 0o755})
	f.publishRaw(wire.Record{Path: "s", Type: wire.Symlink, Target: "y"})
	for _, e := range []*index.Entry{{Path: "d", Stat: index.Stat{Type: wire.Dir}}, {Path: "s", Stat: before.Stat, Target: "y"}} {
		s.track.add()
		s.recordAcked(e, ack{err: nats.ErrDisconnected}, false)
	}
	s.com.flush()
	for _, p := range []string{"d", "s"} {
		e, err := s.ix.Head(p)
		must(t, err)
		if e == nil || e.Seq != 0 {
			t.Fatalf("%s: want an unpublished entry after a failed ack, got %+v", p, e)
		}
	}
	if e, _ := s.ix.Head("s"); e.Target != before.Target {
		t.Fatalf("s: the entry lost what it knew: %+v", e)
	}

	must(t, s.fullScan(ctx))
	if rec := f.record("d"); rec == nil || rec.Type != wire.Deleted {
		t.Fatalf("d: want a tombstone, got %+v", rec)
	}
	if rec := f.record("s"); rec == nil || rec.Type != wire.Symlink || rec.Target != "x" {
		t.Fatalf("s: want the symlink to x republished, got %+v", rec)
	}
}

// TestFileReplacingDirTombstonesOldChildren: a directory replaced by a
// symlink, the symlink's record acknowledged and committed, and the source
// stopped before it tombstoned the directory's old contents. The next
// full scan and the next watcher visit must both find those contents.
func TestFileReplacingDirTombstonesOldChildren(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"scan", "watch"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tree{"keep/": dir(), "d/": dir(), "d/x": link("t"), "d/e/": dir(), "d/e/y": link("t")}.create(t, f.root)
			s := f.manual()
			ctx := context.Background()
			must(t, s.fullScan(ctx))

			must(t, os.RemoveAll(filepath.Join(f.root, "d")))
			must(t, os.Symlink("elsewhere", filepath.Join(f.root, "d")))
			st := &step{}
			must(t, s.visitPath(ctx, st, "d", false))
			must(t, s.barrier(ctx))
			s.com.flush() // the symlink is committed; the step dies here

			if how == "scan" {
				must(t, s.fullScan(ctx))
			} else {
				st := &step{}
				must(t, s.visitPath(ctx, st, "d", false))
				must(t, s.finishStep(ctx, st))
			}
			for _, p := range []string{"d/x", "d/e", "d/e/y"} {
				if rec := f.record(p); rec == nil || rec.Type != wire.Deleted {
					t.Fatalf("%s: want a tombstone, got %+v", p, rec)
				}
			}
			if rec := f.record("d"); rec == nil || rec.Type != wire.Symlink {
				t.Fatalf("d: want the symlink, got %+v", rec)
			}
		})
	}
}
