package source

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// cannotPublishAfter is how long publishing must have kept failing before
// the source reports itself as StateCannotPublish.
var cannotPublishAfter = 5 * time.Second

// inSync is the stream a step of the recovery or of a scan works with:
// the creation time of the stream it is in sync with (0: none to check)
// and the highest sequence the source had acknowledged by then.
type inSync struct {
	created int64
	acked   uint64
	// requests: a recovery asked for meanwhile (by the broker monitor or
	// an ack going backwards) ends the retries too. The recovery itself
	// leaves it for later: it checks the stream itself.
	requests bool
}

// retryBroker calls fn until it succeeds, like bus.Retry, for a step that
// needs the stream want describes. Between attempts it checks what the
// recovery handles: a stream that is missing, was recreated or is behind
// what it acknowledged (and, with want.requests, a recovery asked for).
// Any of those ends the retries with errRecover, since retrying against
// that stream would never succeed or would build on lost data; the
// caller's step gives way to the recovery. Each failure is counted and
// shown in the status: a source that keeps failing reports itself as
// StateCannotPublish.
func (s *Source) retryBroker(ctx context.Context, what string, want inSync, fn func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(actx)
		cancel()
		if err == nil {
			s.prog.published()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn(what+" failed, retrying", "err", err, "attempt", attempt+1)
		s.publishFailed(fmt.Sprintf("%s: %v", what, err))
		if s.mustRecover(ctx, want) {
			s.log.Warn(what+" gives way to a recovery: the broker's stream is not the one the source is in sync with", "err", err)
			return errRecover
		}
		if !sleep(ctx, bus.Backoff(attempt, 5*time.Second)) {
			return ctx.Err()
		}
	}
}

// mustRecover reports whether a recovery is pending (with want.requests)
// or the stream is missing, recreated or behind what want says. A broker
// that does not answer says nothing: the retries go on.
func (s *Source) mustRecover(ctx context.Context, want inSync) bool {
	if want.requests && len(s.recoverCh) > 0 {
		return true
	}
	if want.created == 0 {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := s.js.Stream(cctx, wire.StreamName(s.cfg.Folder))
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return true
	case err != nil:
		return false
	}
	kind, _ := lossOf(want.created, want.acked, 0, st.CachedInfo())
	return kind != lossNone
}

// scanSync is what a scan's steps check their retries against: the
// stream the source is in sync with, and any recovery asked for.
func (s *Source) scanSync() inSync {
	return inSync{created: s.bv.created.Load(), acked: s.pub.highest.Load(), requests: true}
}

// streamSync is what the recovery's steps check their retries against:
// the stream whose info it read.
func streamSync(info *jetstream.StreamInfo) inSync {
	return inSync{created: info.Created.UnixNano()}
}

// publishHealth tracks whether publishing works: since when it has kept
// failing, with no success in between.
type publishHealth struct {
	failingSince atomic.Int64 // unix ns; 0: the last attempt succeeded
}

func (h *publishHealth) failed() {
	h.failingSince.CompareAndSwap(0, time.Now().UnixNano())
}

func (h *publishHealth) ok() { h.failingSince.Store(0) }

// stuck reports whether publishing has kept failing for cannotPublishAfter.
func (h *publishHealth) stuck(now time.Time) bool {
	since := h.failingSince.Load()
	return since != 0 && now.Sub(time.Unix(0, since)) >= cannotPublishAfter
}

// publishFailed records a failure to publish, for the status and the
// errors metric (kind "publish").
func (s *Source) publishFailed(msg string) {
	s.prog.health.failed()
	s.countError("publish", msg)
}
