package verify

import (
	"context"
	"testing"
	"time"
)

// Reading 4 MiB at 8 MiB/s takes about half a second; without a rate,
// no time at all.
func TestPacer(t *testing.T) {
	p := newPacer(8 << 20)
	start := time.Now()
	for range 64 {
		if err := p.wait(context.Background(), 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 2*time.Second {
		t.Fatalf("4 MiB at 8 MiB/s took %v", d)
	}
	var none *pacer
	start = time.Now()
	for range 1000 {
		_ = none.wait(context.Background(), 1<<20)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("no rate took %v", d)
	}
}
