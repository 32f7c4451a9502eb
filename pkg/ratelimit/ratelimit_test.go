package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const mib = 1 << 20

// elapsed runs fn and returns how long it took.
func elapsed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

func TestNilLimiterDoesNotLimit(t *testing.T) {
	var l *Limiter
	if New(0, nil) != nil || New(-1, nil) != nil {
		t.Fatal("a rate of 0 or less must give no limiter")
	}
	if d := elapsed(func() {
		for range 1000 {
			if err := l.Take(context.Background(), 1<<30); err != nil {
				t.Fatal(err)
			}
		}
		l.Settle(1, 2)
	}); d > 100*time.Millisecond {
		t.Fatalf("a nil limiter waited %s", d)
	}
	if !l.TakeWithin(context.Background(), 1<<30, 0) {
		t.Fatal("a nil limiter refused")
	}
}

// TestBurstIsSmall: after an idle while a burst moves at once, and it is a
// tenth of a second's worth (at least one chunk); the bytes after it wait
// for the rate.
func TestBurstIsSmall(t *testing.T) {
	l := New(10*mib, nil)
	if l.Burst() != mib {
		t.Fatalf("burst %d at 10 MiB/s, want 1 MiB", l.Burst())
	}
	if b := New(100<<10, nil).Burst(); b != MinBurst {
		t.Fatalf("burst %d at 100 KiB/s, want one chunk (%d)", b, MinBurst)
	}
	ctx := context.Background()
	if d := elapsed(func() { _ = l.Take(ctx, mib) }); d > 50*time.Millisecond {
		t.Fatalf("the burst waited %s", d)
	}
	// 2 MiB more at 10 MiB/s: 200 ms.
	if d := elapsed(func() { _ = l.Take(ctx, 2*mib) }); d < 180*time.Millisecond || d > 400*time.Millisecond {
		t.Fatalf("2 MiB after the burst took %s, want about 200ms", d)
	}
}

// TestAverageRateOfConcurrentTakers: takers in parallel together move at
// the rate, whatever the sizes they take.
func TestAverageRateOfConcurrentTakers(t *testing.T) {
	const rate, total = 20 * mib, 12 * mib
	l := New(rate, nil)
	_ = l.Take(context.Background(), l.Burst()) // start with an empty bucket
	var moved atomic.Int64
	var wg sync.WaitGroup
	d := elapsed(func() {
		for i := range 8 {
			wg.Go(func() {
				size := (i + 1) * 40 << 10
				for moved.Add(int64(size)) <= total {
					_ = l.Take(context.Background(), size)
				}
			})
		}
		wg.Wait()
	})
	want := time.Duration(float64(total) / rate * float64(time.Second))
	if d < want*9/10 || d > want*12/10 {
		t.Fatalf("%d bytes at %d B/s took %s, want about %s", total, rate, d, want)
	}
}

// TestCancelInterruptsWait: a wait ends as soon as its context does, and
// the bytes it gave up do not delay the next taker.
func TestCancelInterruptsWait(t *testing.T) {
	var waited atomic.Int64
	l := New(mib, func(d time.Duration) { waited.Add(int64(d)) })
	ctx := context.Background()
	_ = l.Take(ctx, l.Burst())
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	var err error
	if d := elapsed(func() { err = l.Take(cctx, 10*mib) }); d > 500*time.Millisecond {
		t.Fatalf("a canceled wait for 10 s of bytes took %s", d)
	}
	if err == nil {
		t.Fatal("a canceled wait returned no error")
	}
	if w := time.Duration(waited.Load()); w < 40*time.Millisecond || w > 500*time.Millisecond {
		t.Fatalf("waited counted %s, want the 50ms spent", w)
	}
	// The bucket refills from where it was, not 10 MiB later: 256 KiB at
	// 1 MiB/s is 250 ms.
	if d := elapsed(func() { _ = l.Take(ctx, 256<<10) }); d > 400*time.Millisecond {
		t.Fatalf("the next take waited %s: the canceled one's bytes were kept", d)
	}
}

// TestSettle: bytes that moved beyond what was taken are waited for by the
// next taker; bytes taken and not moved let the next taker through sooner.
func TestSettle(t *testing.T) {
	ctx := context.Background()
	l := New(10*mib, nil)
	_ = l.Take(ctx, l.Burst())
	l.Settle(0, 2*mib) // 2 MiB arrived unannounced: 200 ms owed
	if d := elapsed(func() { _ = l.Take(ctx, 1) }); d < 180*time.Millisecond {
		t.Fatalf("after 2 MiB owed, the next take waited only %s", d)
	}
	l.Settle(mib, 0) // 1 MiB taken and not moved: the next 1 MiB is free
	if d := elapsed(func() { _ = l.Take(ctx, mib) }); d > 50*time.Millisecond {
		t.Fatalf("a take covered by credit waited %s", d)
	}
	l.Settle(100*mib, 0) // credit is at most a burst
	if d := elapsed(func() { _ = l.Take(ctx, 3*mib) }); d < 180*time.Millisecond {
		t.Fatalf("3 MiB after a big credit waited only %s: credit beyond a burst was kept", d)
	}
}

// TestTakeWithin: what cannot move within the bound is refused at once,
// and the refusal does not use up the rate.
func TestTakeWithin(t *testing.T) {
	ctx := context.Background()
	l := New(mib, nil)
	_ = l.Take(ctx, l.Burst())
	var ok bool
	if d := elapsed(func() { ok = l.TakeWithin(ctx, mib, 100*time.Millisecond) }); ok || d > 50*time.Millisecond {
		t.Fatalf("1 MiB at 1 MiB/s within 100ms: ok %v after %s, want refused at once", ok, d)
	}
	if d := elapsed(func() { ok = l.TakeWithin(ctx, 64<<10, time.Second) }); !ok || d > 150*time.Millisecond {
		t.Fatalf("64 KiB within 1s: ok %v after %s, want taken after about 62ms", ok, d)
	}
}
