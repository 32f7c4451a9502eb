package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publishing limits, variables so tests can tune them.
var (
	// maxPending bounds unacknowledged publishes, and with them the memory
	// held by their payloads (a chunk is at most 256 KiB compressed or not).
	maxPending = 256
	// ackTimeout bounds the wait for one ack; the client also fails
	// pending acks at once when the connection drops.
	ackTimeout = 20 * time.Second
)

var errStopped = errors.New("source stopped before the broker acknowledged")

// ack is the outcome of one publish.
type ack struct {
	seq uint64
	dup bool // the broker already had a message with this Nats-Msg-Id
	err error
}

// pendingAck is one publish awaiting its ack.
type pendingAck struct {
	fut      jetstream.PubAckFuture
	base     uint64 // highest sequence acknowledged before this was sent
	deadline time.Time
	done     func(ack)
	// other: published to another stream than the state stream (the
	// content cache), whose sequences say nothing about lost state.
	other bool
}

// publisher sends messages asynchronously and settles their acks in
// publish order on one goroutine (reap), which is what makes the
// sequence-regression check exact.
type publisher struct {
	js    jetstream.JetStream
	slots chan struct{} // counting semaphore of maxPending
	queue chan *pendingAck

	mu sync.Mutex // keeps queue order equal to send order

	// highest is the highest sequence acknowledged for a fresh message.
	highest atomic.Uint64
	// regressed is the lowest sequence seen going backwards since the last
	// recovery (0: none). An ack for a message sent after sequence N was
	// acknowledged can only be <= N if the broker lost messages.
	regressed atomic.Uint64
	onLoss    func(seq uint64)
	abort     <-chan struct{}
}

func newPublisher(js jetstream.JetStream, abort <-chan struct{}, onLoss func(uint64)) *publisher {
	return &publisher{js: js, slots: make(chan struct{}, maxPending), queue: make(chan *pendingAck, maxPending),
		abort: abort, onLoss: onLoss}
}

// publish sends msg to the state stream and arranges for done to be
// called exactly once with its outcome, from the reaper goroutine; done
// must not block. publish waits for a free slot. On error done is not
// called.
func (p *publisher) publish(ctx context.Context, msg *nats.Msg, done func(ack)) error {
	return p.send(ctx, msg, false, done)
}

// publishOther is publish for a message of another stream (the content
// cache): its ack is settled in order but not checked for lost state.
func (p *publisher) publishOther(ctx context.Context, msg *nats.Msg, done func(ack)) error {
	return p.send(ctx, msg, true, done)
}

func (p *publisher) send(ctx context.Context, msg *nats.Msg, other bool, done func(ack)) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.abort:
		return errStopped
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	base := p.highest.Load()
	fut, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		<-p.slots
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	// Never blocks: the queue has as many places as there are slots.
	p.queue <- &pendingAck{fut: fut, base: base, deadline: time.Now().Add(ackTimeout), done: done, other: other}
	return nil
}

// reap settles acks until ctx ends, then fails whatever is still queued.
func (p *publisher) reap(ctx context.Context) {
	for {
		select {
		case pa := <-p.queue:
			p.settle(pa, p.wait(ctx, pa))
		case <-ctx.Done():
			p.failQueued()
			return
		}
	}
}

func (p *publisher) failQueued() {
	for {
		select {
		case pa := <-p.queue:
			p.settle(pa, ack{err: errStopped})
		default:
			return
		}
	}
}

func (p *publisher) wait(ctx context.Context, pa *pendingAck) ack {
	timer := time.NewTimer(time.Until(pa.deadline))
	defer timer.Stop()
	select {
	case pub := <-pa.fut.Ok():
		return ack{seq: pub.Sequence, dup: pub.Duplicate}
	case err := <-pa.fut.Err():
		return ack{err: fmt.Errorf("publish %s: %w", pa.fut.Msg().Subject, err)}
	case <-timer.C:
		return ack{err: fmt.Errorf("publish %s: no ack after %s", pa.fut.Msg().Subject, ackTimeout)}
	case <-ctx.Done():
		return ack{err: errStopped}
	}
}

func (p *publisher) settle(pa *pendingAck, a ack) {
	<-p.slots
	if a.err == nil && !pa.other {
		p.observe(a.seq, a.dup, pa.base)
	}
	pa.done(a)
}

// observe applies the regression check to a successful ack and raises
// highest. Duplicates carry the sequence of the original message and are
// exempt.
func (p *publisher) observe(seq uint64, dup bool, base uint64) {
	if dup {
		return
	}
	if seq <= base {
		for {
			old := p.regressed.Load()
			if (old != 0 && old <= seq) || p.regressed.CompareAndSwap(old, seq) {
				break
			}
		}
		p.onLoss(seq)
	}
	for {
		old := p.highest.Load()
		if seq <= old || p.highest.CompareAndSwap(old, seq) {
			return
		}
	}
}

// rebase resets the regression baseline after a recovery.
func (p *publisher) rebase(seq uint64) {
	p.highest.Store(seq)
	p.regressed.Store(0)
}
