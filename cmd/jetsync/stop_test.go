package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// stopProbe records what watchStop did.
type stopProbe struct {
	mu       sync.Mutex
	restored int
	exits    []int
	out      bytes.Buffer
	exited   chan struct{}
}

func newStopProbe() *stopProbe { return &stopProbe{exited: make(chan struct{})} }

func (p *stopProbe) restore() { p.mu.Lock(); p.restored++; p.mu.Unlock() }

func (p *stopProbe) exit(code int) {
	p.mu.Lock()
	p.exits = append(p.exits, code)
	p.mu.Unlock()
	close(p.exited)
}

func (p *stopProbe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *stopProbe) state() (restored int, exits []int, out string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restored, append([]int(nil), p.exits...), p.out.String()
}

func TestWatchStopExitsAfterGrace(t *testing.T) {
	ctx, signal := context.WithCancel(context.Background())
	finished := make(chan struct{})
	defer close(finished)
	p := newStopProbe()
	go watchStop(ctx, finished, p.restore, 50*time.Millisecond, p, p.exit)
	signal()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("a command stuck after the signal was not made to exit")
	}
	restored, exits, out := p.state()
	if restored != 1 || len(exits) != 1 || exits[0] != 1 {
		t.Fatalf("restored %d times, exits %v; want the default signal action restored once and exit(1)", restored, exits)
	}
	if !strings.Contains(out, "not stopped 50ms after the signal") || !strings.Contains(out, "goroutine") {
		t.Fatalf("output does not say why it exits and where it was stuck:\n%s", out)
	}
}

func TestWatchStopCleanStop(t *testing.T) {
	ctx, signal := context.WithCancel(context.Background())
	finished := make(chan struct{})
	p := newStopProbe()
	returned := make(chan struct{})
	go func() {
		watchStop(ctx, finished, p.restore, 200*time.Millisecond, p, p.exit)
		close(returned)
	}()
	signal()
	// The second signal must already get the default action while the
	// command is stopping.
	deadline := time.Now().Add(10 * time.Second)
	for restored, _, _ := p.state(); restored == 0; restored, _, _ = p.state() {
		if time.Now().After(deadline) {
			t.Fatal("the default signal action was not restored after the first signal")
		}
		time.Sleep(time.Millisecond)
	}
	close(finished) // the command stopped within the grace
	<-returned
	time.Sleep(300 * time.Millisecond) // past the grace: nothing may fire now
	if _, exits, out := p.state(); len(exits) != 0 || out != "" {
		t.Fatalf("a clean stop was forced: exits %v, output %q", exits, out)
	}
}

func TestWatchStopWithoutSignal(t *testing.T) {
	finished := make(chan struct{})
	p := newStopProbe()
	returned := make(chan struct{})
	go func() {
		watchStop(context.Background(), finished, p.restore, time.Millisecond, p, p.exit)
		close(returned)
	}()
	close(finished)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("watchStop did not return when the command finished")
	}
	if restored, exits, out := p.state(); restored != 0 || len(exits) != 0 || out != "" {
		t.Fatalf("without a signal: restored %d, exits %v, output %q", restored, exits, out)
	}
}
