package source

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
)

// recordClock stamps records with their publish time, strictly increasing
// within the source's life and starting above the newest record already
// on the broker: a replica that checks signatures refuses a record of a
// path older than what it applied of it (a replay), so a source whose
// clock stepped back must not look like one.
type recordClock struct{ last atomic.Int64 }

// next returns a time after every one returned before.
func (c *recordClock) next() int64 {
	for {
		last, now := c.last.Load(), time.Now().UnixNano()
		t := max(now, last+1)
		if c.last.CompareAndSwap(last, t) {
			return t
		}
	}
}

// observe raises the clock to at least t.
func (c *recordClock) observe(t int64) {
	for {
		last := c.last.Load()
		if t <= last || c.last.CompareAndSwap(last, t) {
			return
		}
	}
}

// observeStream raises the clock above the newest state record the
// broker holds. A failure leaves it to the wall clock.
func (s *Source) observeStream(ctx context.Context, st jetstream.Stream) {
	msg, err := st.GetLastMsgForSubject(ctx, wire.StateFilter(s.cfg.Folder))
	if err != nil {
		return
	}
	if rec, err := s.keys.DecodeRecord(msg.Subject, msg.Data); err == nil {
		s.clock.observe(rec.Time)
	}
}
