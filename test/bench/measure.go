package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dropCaches flushes dirty pages and, on Linux as root, empties the page
// cache so that every timed run reads SRC from disk. Failures are ignored:
// containers often forbid it, and the runs stay comparable with each
// other (all warm) even then.
func dropCaches(enabled bool) {
	_ = exec.Command("sync").Run()
	if !enabled || runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return
	}
	_ = os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

// canDropCaches reports whether dropCaches really empties the cache.
func canDropCaches() bool {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return false
	}
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// loopbackBytes is the received-byte counter of the loopback interface
// (Linux /proc/net/dev); -1 where unknown.
func loopbackBytes() int64 {
	if runtime.GOOS != "linux" {
		return -1
	}
	f, err := os.Open("/proc/net/dev")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || name != "lo" {
			continue
		}
		if fs := strings.Fields(rest); len(fs) > 0 {
			if n, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// vmRSS is a running process's resident set (Linux /proc); 0 where unknown.
func vmRSS(pid int) int64 {
	if runtime.GOOS != "linux" {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile interpolates linearly between order statistics of sorted.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	k := float64(len(sorted)-1) * p / 100
	f := int(k)
	c := min(f+1, len(sorted)-1)
	return sorted[f] + (sorted[c]-sorted[f])*(k-float64(f))
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// fmtSecs prints seconds with three significant-ish digits.
func fmtSecs(s float64) string {
	switch {
	case math.IsNaN(s):
		return "n/a"
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.1f s", s)
	}
}

func fmtMs(s float64) string {
	if math.IsNaN(s) {
		return "n/a"
	}
	if s < 0.1 {
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

// fmtMB prints bytes in MB of 10^6, with more digits for small amounts.
func fmtMB(b float64) string {
	switch mb := b / 1e6; {
	case b < 0:
		return "n/a"
	case b == 0:
		return "0 B"
	case mb < 0.01 && b > 0:
		return fmt.Sprintf("%.0f B", b)
	case mb < 10:
		return fmt.Sprintf("%.2f MB", mb)
	default:
		return fmt.Sprintf("%.0f MB", mb)
	}
}

// ratio is how many times slower jetsync was than other.
func ratio(jet, other float64) string {
	if other <= 0 || math.IsNaN(other) || math.IsNaN(jet) {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", jet/other)
}
