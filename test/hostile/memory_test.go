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
	"testing"

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
