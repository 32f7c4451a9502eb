package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Memory governor settings. The embedded broker (nats-server's file store)
// reads and writes its store in 4 MiB blocks and caches a block it has read
// behind a weak pointer. A dropped cache's buffer goes back to a pool from a
// cleanup after the collection that frees the cache, and the pool lets go
// of it over the next two, so each block read stays reachable for about
// three collections. With the Go default (collect when the heap has
// doubled) those buffers count as live and the heap keeps doubling while
// data flows: hundreds of MiB for a few large files. A soft limit makes the
// collector run before that; collecting more often is the price, so auto
// uses a higher limit while collecting costs more than a small share of the
// CPU.
const (
	// defaultMemoryLimit is the soft limit of --memory-limit auto while
	// collecting stays cheap, busyMemoryLimit the one while it does not: on
	// two CPUs a bulk transfer of large files at about 100 MiB/s makes the
	// collector take 20% of the CPU at 96 MiB and 2-7% at 256 MiB.
	defaultMemoryLimit = 96 << 20
	busyMemoryLimit    = 256 << 20
	memoryTick         = 500 * time.Millisecond
	// raiseGCShare is the share of the CPU spent collecting, over raiseAfter
	// ticks in a row (one second), at which auto raises the limit to
	// busyMemoryLimit.
	raiseGCShare = 0.05
	raiseAfter   = 2
	// starvedGCShare is the share of the CPU spent collecting that, with a
	// live heap above the limit, shows the heap has outgrown the limit: the
	// collector runs without pause (Go caps it at half the CPU).
	starvedGCShare = 0.3
	// lowerGCShare is the share below which, for lowerAfter ticks in a
	// row (30 seconds), auto lowers a raised limit by a fifth.
	lowerGCShare = 0.03
	lowerAfter   = 60
	// busyAlloc is the allocation per tick above which the process counts
	// as busy; an idle daemon allocates far less.
	busyAlloc = 4 << 20
	// quietAfter is how many quiet ticks after a busy one (15 seconds) pass
	// before the memory freed since is returned to the operating system.
	quietAfter = 30
)

// memoryFlags hold --memory-limit.
type memoryFlags struct{ value string }

func (m *memoryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.value, "memory-limit", "auto", "soft limit on the process's memory: a size such as 512MiB, "+
		"auto (96MiB, 256MiB while collecting garbage takes over 5% of the CPU, more for a live heap that outgrows that; "+
		"GOMEMLIMIT replaces it when set) or off (Go's default)")
}

// governor returns the memory governor --memory-limit asks for.
func (m *memoryFlags) governor(log *slog.Logger) (*memoryGovernor, error) {
	g := &memoryGovernor{log: log}
	switch v := strings.TrimSpace(m.value); v {
	case "off":
		g.off = true
	case "auto", "":
		if os.Getenv("GOMEMLIMIT") == "" {
			g.floor, g.adaptive = defaultMemoryLimit, true
		}
	default:
		n, err := parseByteSize(v)
		if err != nil || n <= 0 {
			return nil, usagef("--memory-limit %q: want a size such as 512MiB, auto or off", v)
		}
		g.floor = n
	}
	return g, nil
}

// parseByteSize reads a size in GOMEMLIMIT's notation: a whole number of
// bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func parseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = num, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("size %s out of range", s)
	}
	return n << shift, nil
}

// memoryGovernor keeps the process's soft memory limit
// (runtime/debug.SetMemoryLimit) and returns freed memory to the operating
// system once a busy period is over.
type memoryGovernor struct {
	log *slog.Logger
	// off leaves the Go runtime's own settings, GOMEMLIMIT included, alone.
	off bool
	// floor is the limit to set, 0 to keep the one from GOMEMLIMIT.
	floor int64
	// adaptive raises the limit above floor while collecting is costly.
	adaptive bool

	limit int64
	last  memSample
	over  int  // ticks in a row with collecting at raiseGCShare or more
	under int  // ticks in a row with collecting under lowerGCShare
	busy  bool // a tick allocated busyAlloc or more since the last reclaim
	quiet int  // ticks in a row that allocated less than busyAlloc
}

// memSample is what the governor reads from runtime/metrics each tick.
type memSample struct {
	live   uint64 // heap bytes marked live by the last collection
	allocs uint64 // bytes allocated on the heap since the process started
	// gcCPU and totalCPU are the CPU seconds spent collecting and the CPU
	// seconds available to the process (GOMAXPROCS × time) since it started.
	gcCPU, totalCPU float64
}

// memDecision is the governor's response to a sample.
type memDecision struct {
	limit   int64 // new soft limit, 0 to keep the current one
	reclaim bool  // return freed memory to the operating system now
}

// run applies the limit, then adjusts it and reclaims memory each tick
// until ctx ends.
func (g *memoryGovernor) run(ctx context.Context) error {
	if g.off {
		return nil
	}
	if g.floor > 0 {
		g.limit = g.floor
		debug.SetMemoryLimit(g.limit)
	}
	g.last = readMemSample()
	t := time.NewTicker(memoryTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		d := g.step(readMemSample())
		if d.limit > 0 {
			g.log.Debug("memory limit changed", "limit_mib", d.limit>>20, "previous_mib", g.limit>>20)
			g.limit = d.limit
			debug.SetMemoryLimit(d.limit)
		}
		if d.reclaim {
			reclaimMemory()
		}
	}
}

// step decides on one sample; only an adaptive governor changes the limit.
func (g *memoryGovernor) step(s memSample) memDecision {
	prev := g.last
	g.last = s
	var d memDecision
	if g.adaptive {
		gcShare := 0.0
		if dt := s.totalCPU - prev.totalCPU; dt > 0 {
			gcShare = (s.gcCPU - prev.gcCPU) / dt
		}
		d.limit = g.adapt(int64(s.live), gcShare)
	}
	if s.allocs-prev.allocs >= busyAlloc {
		g.busy, g.quiet = true, 0
		return d
	}
	g.quiet++
	if g.busy && g.quiet >= quietAfter {
		g.busy = false
		d.reclaim = true
	}
	return d
}

// adapt returns a new limit, or 0 to keep the current one.
//
// Collecting that takes raiseGCShare of the CPU for raiseAfter ticks means
// the limit is too tight for the work at hand, typically large files in
// flight: the limit becomes busyMemoryLimit at once, since creeping up
// costs a storm of collections per step. It goes no higher for that reason:
// under the limit the broker's dead blocks awaiting collection fill
// whatever room it leaves and count as live, so neither the live heap nor
// the cost of collecting tells when more room stops helping.
//
// A live heap above the limit while the collector is starved is another
// matter: the heap itself has outgrown the limit (a large index), and the
// limit becomes 1.5 times the live heap.
//
// Once collecting has been cheap for lowerAfter ticks, a raised limit
// shrinks by a fifth, never below the floor nor below 1.5 times the live
// heap, so that an idle daemon with a large index does not starve its
// collector.
func (g *memoryGovernor) adapt(live int64, gcShare float64) int64 {
	outgrown := live > g.limit && gcShare >= starvedGCShare
	costly := gcShare >= raiseGCShare && g.limit < busyMemoryLimit
	g.over = countIf(outgrown || costly, g.over)
	g.under = countIf(g.limit > g.floor && gcShare < lowerGCShare, g.under)
	switch {
	case g.over >= raiseAfter && outgrown:
		g.over, g.under = 0, 0
		return live + live/2
	case g.over >= raiseAfter && costly:
		g.over, g.under = 0, 0
		return busyMemoryLimit
	case g.under >= lowerAfter:
		g.under = 0
		if l := max(g.floor, live+live/2, g.limit-g.limit/5); l < g.limit {
			return l
		}
	}
	return 0
}

func countIf(cond bool, n int) int {
	if cond {
		return n + 1
	}
	return 0
}

var memMetrics = []string{
	"/gc/heap/live:bytes",
	"/gc/heap/allocs:bytes",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
}

func readMemSample() memSample {
	s := make([]metrics.Sample, len(memMetrics))
	for i, name := range memMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return memSample{live: s[0].Value.Uint64(), allocs: s[1].Value.Uint64(),
		gcCPU: s[2].Value.Float64(), totalCPU: s[3].Value.Float64()}
}

// reclaimMemory returns freed memory to the operating system. Buffers of the
// broker's dropped block caches reach their pool from cleanups that run
// after a collection, and the pool lets go of them only over the next two,
// hence two collections before FreeOSMemory, which runs a third.
func reclaimMemory() {
	for range 2 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // let the cleanups queued by the collection run
	}
	debug.FreeOSMemory()
}
