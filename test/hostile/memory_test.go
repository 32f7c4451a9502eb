//go:build linux

package hostile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// memoryLimit is the peak resident memory (VmHWM) the replica must stay
// under, whatever it is sent: 100 MB.
const memoryLimit = 100_000_000

// guardData is how much private writable memory (RLIMIT_DATA) the replica
// may map beyond what it had at start. A replica that falls for a bomb
// then fails its allocations and crashes, which the case reports, instead
// of taking gigabytes of a machine other tests share. At ten times
// memoryLimit it never decides whether a case passes.
const guardData = 1 << 30

// memEvery is how often a memWatch samples.
const memEvery = 100 * time.Millisecond

// memWatch samples the peak resident memory (VmHWM) of every run of a
// daemon, so that the peak of a run that crashed is known too.
type memWatch struct {
	mu       sync.Mutex
	peaks    map[int]int64 // VmHWM by process id
	reported map[int]bool  // runs whose peak over memoryLimit was reported
}

// watchMemory samples p's VmHWM every memEvery until the end of t.
func watchMemory(t *testing.T, p *harness.Proc) *memWatch {
	w := &memWatch{peaks: map[int]int64{}, reported: map[int]bool{}}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(memEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if pid := p.Pid(); pid != 0 {
				if hwm, err := vmHWM(pid); err == nil {
					w.note(pid, hwm)
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return w
}

func (w *memWatch) note(pid int, hwm int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peaks[pid] = max(w.peaks[pid], hwm)
}

// highest is the highest peak of all runs.
func (w *memWatch) highest() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var m int64
	for _, v := range w.peaks {
		m = max(m, v)
	}
	return m
}

// over returns the runs whose peak reached memoryLimit and were not
// returned before.
func (w *memWatch) over() map[int]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int]int64{}
	for pid, v := range w.peaks {
		if v >= memoryLimit && !w.reported[pid] {
			out[pid] = v
			w.reported[pid] = true
		}
	}
	return out
}

// check samples p now and fails t for every run of p whose peak reached
// memoryLimit since the last check, running or not.
func (w *memWatch) check(t *testing.T, p *harness.Proc, when string) {
	t.Helper()
	if p.Running() {
		if hwm, err := vmHWM(p.Pid()); err == nil {
			w.note(p.Pid(), hwm)
			t.Logf("%s VmHWM %s: %.1f MB", p.Name(), when, float64(hwm)/1e6)
		}
	}
	for pid, v := range w.over() {
		t.Errorf("%s (process %d) reached a VmHWM of %.1f MB (seen %s), want under %d MB",
			p.Name(), pid, float64(v)/1e6, when, memoryLimit/1_000_000)
	}
}

// vmHWM returns the peak resident set of process pid, in bytes.
func vmHWM(pid int) (int64, error) { return procStatus(pid, "VmHWM") }

// procStatus reads one size field ("VmHWM", "VmData") of
// /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	if pid == 0 {
		return 0, errors.New("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// guardMemory limits the data segment of the daemon p to what it has now
// plus guardData (see guardData).
func guardMemory(t *testing.T, p *harness.Proc) {
	t.Helper()
	data, err := procStatus(p.Pid(), "VmData")
	if err != nil {
		t.Logf("no memory guard on %s: %v", p.Name(), err)
		return
	}
	lim := uint64(data + guardData)
	if err := unix.Prlimit(p.Pid(), unix.RLIMIT_DATA, &unix.Rlimit{Cur: lim, Max: lim}, nil); err != nil {
		t.Logf("no memory guard on %s: %v", p.Name(), err)
	}
}

// snapshotOutside describes everything under root but the directories
// jetsync writes to (ownDirs), and whether the absolute paths
// the confinement case names exist: one line per entry with its type,
// mode, size, mtime, link target and content hash. Two equal snapshots
// mean nothing outside the trees was created, changed or removed.
func snapshotOutside(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case rel == ".": // its mtime moves when jetsync creates its directories
		case slices.Contains(ownDirs, rel):
			return fs.SkipDir
		default:
			lines = append(lines, describe(path, rel, d))
		}
		return nil
	})
	harness.Must(t, err)
	for _, abs := range absoluteVictims {
		_, err := os.Lstat(abs)
		lines = append(lines, fmt.Sprintf("%s exists: %v", abs, err == nil))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// absoluteVictims are absolute paths outside every tree that hostile
// records name.
var absoluteVictims = []string{"/etc/x"}

func describe(path, rel string, d fs.DirEntry) string {
	fi, err := d.Info()
	if err != nil {
		return rel + ": " + err.Error()
	}
	s := fmt.Sprintf("%s %s %o size %d mtime %d", rel, fi.Mode().Type(), fi.Mode().Perm(), fi.Size(), fi.ModTime().UnixNano())
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		s += " -> " + target
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(path)
		if err != nil {
			return s + ": " + err.Error()
		}
		s += " " + wire.Sum(b).String()
	}
	return s
}
