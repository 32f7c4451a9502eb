package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopTimeout is how long a daemon may take to stop after SIGTERM before
// it is killed (and the stop counted as unclean).
const stopTimeout = 20 * time.Second

// proc is one jetsync daemon. Its stdout and stderr go to a log file that
// survives restarts; each start appends a marker line.
type proc struct {
	name string
	args []string
	log  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current run has exited
	err     error         // exit status of the last run
	starts  int
	expectd bool // we stopped or killed it: an exit is no surprise
}

// registry keeps each top-level test's daemons so that eventually and the
// failure report can show their logs.
var registry = struct {
	sync.Mutex
	procs  map[string][]*proc
	dumped map[string]bool
}{procs: map[string][]*proc{}, dumped: map[string]bool{}}

func topName(t testing.TB) string { return strings.SplitN(t.Name(), "/", 2)[0] }

// startProc starts `jetsync args...` and registers its cleanup: on the end
// of the test it is stopped (SIGTERM, then SIGKILL), and if the test
// failed, every daemon's log tail is printed.
func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, args: args, log: filepath.Join(t.TempDir(), name+".log")}
	key := topName(t)
	registry.Lock()
	if len(registry.procs[key]) == 0 {
		t.Cleanup(func() { dumpLogsOnce(t) })
	}
	registry.procs[key] = append(registry.procs[key], p)
	registry.Unlock()
	t.Cleanup(func() {
		if p.running() {
			if err := p.stop(); err != nil {
				t.Logf("cleanup: %s: %v", p.name, err)
			}
		}
	})
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs the daemon (again) with its original arguments.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("start %s: already running", p.name)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	p.starts++
	fmt.Fprintf(f, "=== e2e: start #%d at %s: jetsync %s\n", p.starts, time.Now().Format(time.TimeOnly+".000"), strings.Join(p.args, " "))
	args := p.args
	if lvl := os.Getenv("JETSYNC_E2E_LOG_LEVEL"); lvl != "" {
		args = append(slices.Clone(args), "--log-level", lvl)
	}
	cmd := exec.Command(jetsyncBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.err, p.expectd = cmd, make(chan struct{}), nil, false
	go p.wait(cmd, p.done)
	return nil
}

func (p *proc) wait(cmd *exec.Cmd, done chan struct{}) {
	err := cmd.Wait()
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	close(done)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// died reports an exit nobody asked for.
func (p *proc) died() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.expectd || !isClosed(p.done) {
		return false, nil
	}
	return true, p.err
}

// stop sends SIGTERM and waits; after stopTimeout it sends SIGKILL. The
// error is non-nil unless the daemon exited with status 0 in time.
func (p *proc) stop() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.expectd = true
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("stop %s: still running %s after SIGTERM, killed", p.name, stopTimeout)
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop %s: exited after SIGTERM (%s) with %v", p.name, time.Since(start).Round(time.Millisecond), err)
	}
	return nil
}

// kill9 sends SIGKILL and waits for the exit.
func (p *proc) kill9() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.expectd = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// restart stops the daemon cleanly and starts it again.
func (p *proc) restart() error {
	if err := p.stop(); err != nil {
		return err
	}
	return p.start()
}

// tail returns the last n lines of the daemon's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// lastRunLog returns the log of the daemon's latest start.
func (p *proc) lastRunLog() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	if i := bytes.LastIndex(b, []byte("=== e2e: start #")); i >= 0 {
		b = b[i:]
	}
	return string(b)
}

// logTails renders the tails of every daemon of t's top-level test.
func logTails(t testing.TB, n int) string {
	registry.Lock()
	procs := registry.procs[topName(t)]
	registry.Unlock()
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "\n----- %s (%s), last %d lines -----\n%s\n", p.name, p.log, n, p.tail(n))
	}
	return b.String()
}

// dumpLogsOnce prints the log tails of a failed test, once, then forgets
// the test's daemons (a later run of the same test, -count, starts afresh).
func dumpLogsOnce(t testing.TB) {
	key := topName(t)
	registry.Lock()
	dumped := registry.dumped[key]
	registry.Unlock()
	if t.Failed() && !dumped {
		t.Logf("daemon logs:%s", logTails(t, 40))
	}
	if t.Failed() {
		keepLogs(t)
	}
	registry.Lock()
	delete(registry.procs, key)
	delete(registry.dumped, key)
	registry.Unlock()
}

// keepLogs copies the full daemon logs of a failed test to the directory
// named by JETSYNC_E2E_LOGS, if set (a CI artifact, or for debugging).
func keepLogs(t testing.TB) {
	dir := os.Getenv("JETSYNC_E2E_LOGS")
	if dir == "" {
		return
	}
	registry.Lock()
	procs := registry.procs[topName(t)]
	registry.Unlock()
	for _, p := range procs {
		b, err := os.ReadFile(p.log)
		if err == nil {
			dst := filepath.Join(dir, topName(t)+"-"+p.name+".log")
			err = os.MkdirAll(dir, 0o755)
			if err == nil {
				err = os.WriteFile(dst, b, 0o644)
			}
		}
		if err != nil {
			t.Logf("keep log of %s: %v", p.name, err)
		}
	}
}

// checkAlive returns an error naming a daemon that exited on its own.
func checkAlive(t testing.TB) error {
	registry.Lock()
	procs := registry.procs[topName(t)]
	registry.Unlock()
	var errs []error
	for _, p := range procs {
		if dead, err := p.died(); dead {
			errs = append(errs, fmt.Errorf("%s exited unexpectedly: %v", p.name, err))
		}
	}
	return errors.Join(errs...)
}
