package main

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"testing"
	"time"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "512B": 512, "64KiB": 64 << 10, "96MiB": 96 << 20, "2GiB": 2 << 30, "1TiB": 1 << 40,
	} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "12MB", "1.5GiB", "-1", "10000000TiB", "auto"} {
		if n, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestMemoryFlags(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	gov := func(v string) *memoryGovernor {
		t.Helper()
		g, err := (&memoryFlags{value: v}).governor(slog.Default())
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		return g
	}
	if g := gov("auto"); g.off || g.floor != defaultMemoryLimit || !g.adaptive {
		t.Errorf("auto: %+v", g)
	}
	if g := gov("300MiB"); g.off || g.floor != 300<<20 || g.adaptive {
		t.Errorf("300MiB: %+v", g)
	}
	if g := gov("off"); !g.off {
		t.Errorf("off: %+v", g)
	}
	for _, bad := range []string{"0", "lots", "-5MiB"} {
		var ue usageError
		if _, err := (&memoryFlags{value: bad}).governor(slog.Default()); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	if g := gov("auto"); g.off || g.floor != 0 || g.adaptive {
		t.Errorf("auto with GOMEMLIMIT: %+v, want the runtime's limit kept", g)
	}
	if g := gov("200MiB"); g.floor != 200<<20 {
		t.Errorf("explicit size with GOMEMLIMIT: %+v, want the flag to win", g)
	}
}

// ticks feeds the governor one sample per tick from a process whose heap
// holds live bytes, allocates alloc bytes per tick and spends gcShare of
// its CPU collecting, and returns the decisions.
func ticks(g *memoryGovernor, n int, live, alloc uint64, gcShare float64) []memDecision {
	out := make([]memDecision, n)
	for i := range out {
		s := g.last
		s.live = live
		s.allocs += alloc
		s.totalCPU += 2
		s.gcCPU += 2 * gcShare
		out[i] = g.step(s)
		if out[i].limit > 0 {
			g.limit = out[i].limit
		}
	}
	return out
}

func limits(ds []memDecision) []int64 {
	var out []int64
	for _, d := range ds {
		if d.limit > 0 {
			out = append(out, d.limit)
		}
	}
	return out
}

func TestGovernorTradesMemoryForCollectionTime(t *testing.T) {
	const mib = 1 << 20
	g := &memoryGovernor{floor: 96 * mib, limit: 96 * mib, adaptive: true}
	// Dead broker blocks fill the room the limit leaves, but collecting
	// stays cheap: the limit holds.
	if l := limits(ticks(g, 20, 90*mib, 300*mib, 0.02)); len(l) != 0 {
		t.Fatalf("raised to %v while collecting was cheap", l)
	}
	// One costly tick is a burst.
	ticks(g, 1, 90*mib, 300*mib, 0.3)
	if l := limits(ticks(g, 1, 90*mib, 300*mib, 0.02)); len(l) != 0 {
		t.Fatalf("raised to %v after a single costly tick", l)
	}
	// Costly collection: the busy limit after raiseAfter ticks, and no
	// higher however costly collecting stays.
	l := limits(ticks(g, 20*raiseAfter, 110*mib, 300*mib, 0.2))
	if len(l) != 1 || l[0] != busyMemoryLimit {
		t.Fatalf("limits %v MiB, want %d", mibs(l), busyMemoryLimit/mib)
	}
	// A live heap above the limit with the collector starved has outgrown
	// the limit: 1.5 times the live heap.
	if l := limits(ticks(g, raiseAfter, 400*mib, 300*mib, 0.5)); len(l) != 1 || l[0] != 600*mib {
		t.Fatalf("limits %v MiB, want 600", mibs(l))
	}
	// Cheap again: down by a fifth per lowerAfter ticks, but never below
	// 1.5 times the live heap.
	if l := limits(ticks(g, lowerAfter-1, 300*mib, 1*mib, 0.01)); len(l) != 0 {
		t.Fatalf("lowered to %v MiB too early", mibs(l))
	}
	if l := limits(ticks(g, 3*lowerAfter, 300*mib, 1*mib, 0.01)); len(l) != 2 || l[0] != 480*mib || l[1] != 450*mib {
		t.Fatalf("limits %v MiB, want 480 then 450 and no lower", mibs(l))
	}
	// After the heap shrinks the limit returns to the floor.
	l = limits(ticks(g, 20*lowerAfter, 10*mib, 1*mib, 0))
	if len(l) == 0 || l[len(l)-1] != 96*mib || g.limit != 96*mib {
		t.Fatalf("limits %v MiB, want the floor at last", mibs(l))
	}
	// A static limit never moves.
	s := &memoryGovernor{floor: 96 * mib, limit: 96 * mib}
	if l := limits(ticks(s, 10, 400*mib, 300*mib, 0.5)); len(l) != 0 {
		t.Fatalf("static limit changed to %v MiB", mibs(l))
	}
}

func mibs(l []int64) []int64 {
	out := make([]int64, len(l))
	for i, n := range l {
		out[i] = n >> 20
	}
	return out
}

func TestGovernorReclaimsOnceAfterABusyPeriod(t *testing.T) {
	g := &memoryGovernor{}
	reclaims := func(ds []memDecision) (n int) {
		for _, d := range ds {
			if d.reclaim {
				n++
			}
		}
		return n
	}
	if n := reclaims(ticks(g, 3*quietAfter, 10, 1<<20, 0)); n != 0 {
		t.Fatalf("%d reclaims while never busy", n)
	}
	ticks(g, 5, 10, 100<<20, 0)
	ds := ticks(g, 3*quietAfter, 10, 1<<20, 0)
	if n := reclaims(ds); n != 1 || !ds[quietAfter-1].reclaim {
		t.Fatalf("%d reclaims, want one after %d quiet ticks", n, quietAfter)
	}
}

func TestGovernorRunSetsTheLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	g := &memoryGovernor{log: slog.Default(), floor: 300 << 20, adaptive: true, limit: 0}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) != 300<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d, want %d", debug.SetMemoryLimit(-1), 300<<20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// off leaves the runtime alone.
	debug.SetMemoryLimit(prev)
	if err := (&memoryGovernor{off: true}).run(context.Background()); err != nil || debug.SetMemoryLimit(-1) != prev {
		t.Fatalf("off: err %v, limit %d, want %d untouched", err, debug.SetMemoryLimit(-1), prev)
	}
}
