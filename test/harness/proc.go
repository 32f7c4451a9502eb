package harness

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

// StopTimeout is how long a daemon may take to stop after SIGTERM before
// it is killed (and the stop counted as unclean).
const StopTimeout = 20 * time.Second

// Proc is one jetsync daemon. Its stdout and stderr go to a log file that
// survives restarts; each start appends a marker line. A Proc is safe for
// use by several goroutines.
type Proc struct {
	name string
	bin  string
	args []string
	log  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current run has exited
	err     error         // exit status of the last run
	starts  int
	expectd bool       // we stopped or killed it: an exit is no surprise
	user    *[2]uint32 // uid and gid to run as (StartAs); nil: this process's
}

// registry keeps each top-level test's daemons so that Eventually and the
// failure report can show their logs.
var registry = struct {
	sync.Mutex
	procs  map[string][]*Proc
	dumped map[string]bool
}{procs: map[string][]*Proc{}, dumped: map[string]bool{}}

func topName(t testing.TB) string { return strings.SplitN(t.Name(), "/", 2)[0] }

// Start starts `jetsync args...` (Bin) as a daemon called name, logging to
// name.log under t.TempDir(), and registers its cleanup: at the end of the
// test it is stopped (SIGTERM, then SIGKILL after StopTimeout), and if the
// test failed, the log tail of every daemon of the top-level test is
// printed and the logs are kept (KeepLogs). If JETSYNC_E2E_LOG_LEVEL is
// set, "--log-level" and its value are appended to args. On Linux the
// daemon gets SIGKILL if the test binary dies. Start fails t if the
// daemon cannot be started.
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return Binary(bin(t)).Start(t, name, args...)
}

// Binary is a jetsync binary to run: Bin, the binary under test, or
// another build, such as an older release for an upgrade test
// (BuildCommit). Its methods do what the package's functions of the same
// name do (those run Bin), with this binary.
type Binary string

// Start is Start with binary b.
func (b Binary) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	if string(b) == Bin {
		registerBroker(t, args)
	}
	args = withCredentials(t, b, args)
	p := &Proc{name: name, bin: string(b), args: args, log: filepath.Join(t.TempDir(), name+".log")}
	return p.register(t)
}

// register adds p to its test's daemons, to be stopped at its end, and
// starts it.
func (p *Proc) register(t testing.TB) *Proc {
	t.Helper()
	key := topName(t)
	registry.Lock()
	if len(registry.procs[key]) == 0 {
		t.Cleanup(func() { dumpLogsOnce(t) })
	}
	registry.procs[key] = append(registry.procs[key], p)
	registry.Unlock()
	t.Cleanup(func() {
		if p.Running() {
			if err := p.Stop(); err != nil {
				t.Logf("cleanup: %s: %v", p.name, err)
			}
		}
	})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartAs is Start of a daemon that runs as user uid and group gid
// (Linux, as root): for a replica that is not root. Whatever it must read
// or write (its trees, data directory and credentials) must be open to
// that user.
func StartAs(t testing.TB, uid, gid uint32, name string, args ...string) *Proc {
	t.Helper()
	b := Binary(bin(t))
	registerBroker(t, args)
	p := &Proc{name: name, bin: string(b), args: withCredentials(t, b, args), log: filepath.Join(t.TempDir(), name+".log"),
		user: &[2]uint32{uid, gid}}
	return p.register(t)
}

// Name returns the name the daemon was started with.
func (p *Proc) Name() string { return p.name }

// LogPath returns the path of the daemon's log file.
func (p *Proc) LogPath() string { return p.log }

// Start runs the daemon again, with its original binary and arguments,
// after a Stop or Kill9 (or an exit of its own). It fails if the daemon is
// running.
func (p *Proc) Start() error {
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
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	dieWithParent(cmd)
	if p.user != nil {
		runAs(cmd, p.user[0], p.user[1])
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.err, p.expectd = cmd, make(chan struct{}), nil, false
	go p.wait(cmd, p.done)
	return nil
}

func (p *Proc) wait(cmd *exec.Cmd, done chan struct{}) {
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

// Running reports whether the daemon's current run has not exited yet.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// Pid returns the process id of the daemon's latest run, or 0 if it never
// started.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Starts returns how many times the daemon has been started.
func (p *Proc) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Died reports an exit nobody asked for (not by Stop or Kill9), with the
// exit status.
func (p *Proc) Died() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.expectd || !isClosed(p.done) {
		return false, nil
	}
	return true, p.err
}

// Signal sends sig to the running daemon, e.g. SIGSTOP and SIGCONT to
// freeze it. An exit it causes counts as unexpected (see Died) unless it
// is followed by Stop or Kill9.
func (p *Proc) Signal(sig os.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return fmt.Errorf("signal %s: not running", p.name)
	}
	return cmd.Process.Signal(sig)
}

// Stop sends SIGTERM and waits; after StopTimeout it sends SIGKILL. The
// error is non-nil unless the daemon exited with status 0 in time.
func (p *Proc) Stop() error {
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
	case <-time.After(StopTimeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("stop %s: still running %s after SIGTERM, killed", p.name, StopTimeout)
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop %s: exited after SIGTERM (%s) with %v", p.name, time.Since(start).Round(time.Millisecond), err)
	}
	return nil
}

// Kill9 sends SIGKILL and waits for the exit.
func (p *Proc) Kill9() {
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

// Restart stops the daemon cleanly (Stop) and starts it again.
func (p *Proc) Restart() error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.Start()
}

// Tail returns the last n lines of the daemon's log (all its runs).
func (p *Proc) Tail(n int) string {
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

// LastRunLog returns the log of the daemon's latest start, from its
// marker line on.
func (p *Proc) LastRunLog() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	if i := bytes.LastIndex(b, []byte("=== e2e: start #")); i >= 0 {
		b = b[i:]
	}
	return string(b)
}

// LogTails renders the last n log lines of every daemon of t's top-level
// test.
func LogTails(t testing.TB, n int) string {
	registry.Lock()
	procs := registry.procs[topName(t)]
	registry.Unlock()
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "\n----- %s (%s), last %d lines -----\n%s\n", p.name, p.log, n, p.Tail(n))
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
		t.Logf("daemon logs:%s", LogTails(t, 40))
	}
	if t.Failed() {
		KeepLogs(t)
	}
	registry.Lock()
	delete(registry.procs, key)
	delete(registry.dumped, key)
	registry.Unlock()
}

// KeepLogs copies the full logs of every daemon of t's top-level test to
// the directory named by JETSYNC_E2E_LOGS, if set (a CI artifact, or for
// debugging), as <test>-<daemon>.log (-<daemon>-2.log and so on for
// daemons of the same name, e.g. a broker of an older release and its
// upgrade). It is called for failed tests.
func KeepLogs(t testing.TB) {
	dir := os.Getenv("JETSYNC_E2E_LOGS")
	if dir == "" {
		return
	}
	registry.Lock()
	procs := registry.procs[topName(t)]
	registry.Unlock()
	seen := map[string]int{}
	for _, p := range procs {
		seen[p.name]++
		name := p.name
		if n := seen[p.name]; n > 1 {
			name = fmt.Sprintf("%s-%d", p.name, n)
		}
		b, err := os.ReadFile(p.log)
		if err == nil {
			dst := filepath.Join(dir, topName(t)+"-"+name+".log")
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

// CheckAlive returns an error naming every daemon of t's top-level test
// that exited on its own.
func CheckAlive(t testing.TB) error {
	registry.Lock()
	procs := registry.procs[topName(t)]
	registry.Unlock()
	var errs []error
	for _, p := range procs {
		if dead, err := p.Died(); dead {
			errs = append(errs, fmt.Errorf("%s exited unexpectedly: %v", p.name, err))
		}
	}
	return errors.Join(errs...)
}
