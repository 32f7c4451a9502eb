package verify

import (
	"context"
	"time"
)

// pacer keeps reading at or below a rate: after each read it sleeps as
// long as the bytes read so far are ahead of the rate. nil reads at full
// speed.
type pacer struct {
	rate  float64 // bytes per second
	start time.Time
	bytes int64
}

func newPacer(rate int64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{rate: float64(rate), start: time.Now()}
}

// wait accounts for n bytes read and sleeps until the rate allows more.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p == nil {
		return nil
	}
	p.bytes += int64(n)
	ahead := time.Duration(float64(p.bytes)/p.rate*float64(time.Second)) - time.Since(p.start)
	if ahead < 10*time.Millisecond {
		return nil
	}
	t := time.NewTimer(ahead)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
