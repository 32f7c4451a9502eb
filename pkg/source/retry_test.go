package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// A step retrying against a stream that is gone gives way to the
// recovery instead of retrying for ever: the folder meta that completes a
// scan, published into a deleted stream, ends with errRecover.
func TestRetryGivesWayToRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a.txt": file("a")}.create(t, f.root)
	s := f.manual()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must(t, f.js.DeleteStream(ctx, wire.StreamName(f.folder)))
	err := s.retryBroker(ctx, "publish folder meta", s.scanSync(), func(ctx context.Context) error {
		_, err := s.publishMeta(ctx, s.bv.epoch.Load(), false)
		return err
	})
	if !errors.Is(err, errRecover) {
		t.Fatalf("retry against a deleted stream: %v, want errRecover", err)
	}
	// The recovery then recreates the stream and starts a new epoch.
	lost, err := s.recover(ctx)
	must(t, err)
	if !lost || s.bv.epoch.Load() != 2 {
		t.Errorf("recover after the stream was deleted: lost %v, epoch %d; want true, 2", lost, s.bv.epoch.Load())
	}
}

// A source whose publishes keep failing says so: its state is
// cannot-publish, in Progress and in the status bucket, with the error,
// and it goes back to live once it can publish again. The broker refuses
// every message into a sealed stream, which is not a loss the recovery
// would repair.
func TestSourceThatCannotPublishSaysSo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a.txt": file("a")}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := f.js.Stream(ctx, wire.StreamName(f.folder))
	must(t, err)
	cfg := st.CachedInfo().Config
	cfg.Sealed = true
	_, err = f.js.UpdateStream(ctx, cfg)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(f.root, "b.txt"), []byte("b"), 0o644))

	waitFor(t, 20*time.Second, func() bool {
		p := r.src.Progress()
		return p.State == StateCannotPublish && strings.Contains(p.LastError, "b.txt")
	}, "state cannot-publish")
	kv, err := bus.StatusKV(ctx, f.js, 1)
	must(t, err)
	waitFor(t, 10*time.Second, func() bool {
		e, err := kv.Get(ctx, bus.SourceKey(f.folder))
		return err == nil && strings.Contains(string(e.Value()), `"state":"`+StateCannotPublish+`"`)
	}, "status report cannot-publish")

	// A stream the source can publish into again: it is live once the
	// retried path is published.
	must(t, f.js.DeleteStream(ctx, wire.StreamName(f.folder)))
	waitFor(t, 30*time.Second, func() bool {
		p := r.src.Progress()
		return p.State == StateLive && f.record("b.txt") != nil
	}, "live again")
}
