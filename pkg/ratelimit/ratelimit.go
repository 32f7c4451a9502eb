package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetsync/jetsync/pkg/chunk"
)

// MinBurst is the smallest burst: one chunk at its largest, taken at once.
const MinBurst = chunk.MaxSize

// Limiter limits bytes per second. A nil Limiter does not limit.
type Limiter struct {
	lim    *rate.Limiter
	burst  int
	waited func(time.Duration) // told how long each wait for the limit took

	mu     sync.Mutex
	credit int // bytes taken but not moved, taken first by the next Take
}

// New returns a limiter of bytesPerSec, nil (no limit) for 0 or less.
// waited, if not nil, is told of every wait for the limit.
func New(bytesPerSec int64, waited func(time.Duration)) *Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(min(max(bytesPerSec/10, MinBurst), 1<<30))
	if waited == nil {
		waited = func(time.Duration) {}
	}
	return &Limiter{lim: rate.NewLimiter(rate.Limit(bytesPerSec), burst), burst: burst, waited: waited}
}

// Burst is the most bytes that move at once after an idle while.
func (l *Limiter) Burst() int { return l.burst }

// Take waits until n more bytes may move, and counts them as moved. It
// returns ctx's error, at once, when ctx ends first.
func (l *Limiter) Take(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	// Bytes beyond a burst are taken a burst at a time (the bucket holds no
	// more), each waited for before the next is reserved: a canceled wait
	// then gives back the one reservation it holds.
	for need := l.useCredit(n); need > 0; need -= l.burst {
		if err := l.wait(ctx, min(need, l.burst)); err != nil {
			return err
		}
	}
	return nil
}

// TakeWithin is Take for callers that must not wait long (a service
// answering a request the requester gives up on after a while): when n
// bytes could not move within maxWait, it takes nothing, does not wait
// and returns false.
func (l *Limiter) TakeWithin(ctx context.Context, n int, maxWait time.Duration) bool {
	if l == nil {
		return true
	}
	if l.delay(n-l.creditNow()) > maxWait {
		return false
	}
	return l.Take(ctx, n) == nil
}

// Settle tells what moved of bytes taken before it was known exactly (a
// reply's size after compression, or a miss that brought none): bytes
// beyond what was taken are owed (the next Take waits for them), bytes
// taken but not moved are taken first by the next Take.
func (l *Limiter) Settle(taken, moved int) {
	if l == nil || taken == moved {
		return
	}
	if moved <= taken {
		l.giveBack(taken - moved)
		return
	}
	now := time.Now()
	for owed := moved - taken; owed > 0; owed -= l.burst {
		l.lim.ReserveN(now, min(owed, l.burst)) // not waited for here, but by whoever takes next
	}
}

// wait reserves n bytes, n at most a burst, and sleeps until they may
// move.
func (l *Limiter) wait(ctx context.Context, n int) error {
	start := time.Now()
	r := l.lim.ReserveN(start, n)
	d := r.DelayFrom(start)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		r.Cancel()
		l.waited(time.Since(start))
		return ctx.Err()
	case <-t.C:
		l.waited(d)
		return nil
	}
}

// delay is about how long n bytes would wait now.
func (l *Limiter) delay(n int) time.Duration {
	short := float64(n) - l.lim.Tokens()
	if short <= 0 {
		return 0
	}
	return time.Duration(short / float64(l.lim.Limit()) * float64(time.Second))
}

func (l *Limiter) creditNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.credit
}

// useCredit returns how many of n bytes are not covered by bytes taken
// before and not moved.
func (l *Limiter) useCredit(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := min(l.credit, n)
	l.credit -= c
	return n - c
}

// giveBack credits n bytes taken and not moved, at most a burst: credit
// saved up over a long while must not let a big burst through.
func (l *Limiter) giveBack(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.credit = min(l.credit+n, l.burst)
}
