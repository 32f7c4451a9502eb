package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs owns every child process the benchmark starts, so that all of them
// can be ended on exit or interrupt. Each child leads its own process group
// (rsync forks helpers); it is signalled by that group, never by name.
type procs struct {
	mu   sync.Mutex
	live map[*child]struct{}
}

func newProcs() *procs { return &procs{live: map[*child]struct{}{}} }

// child is one started process. Its stdout and stderr go to a log file;
// watch, when set, is a line fragment whose first appearance on either
// stream is timestamped and signalled on seen.
type child struct {
	name string
	log  string
	cmd  *exec.Cmd
	out  *watchWriter
	done chan struct{}
	err  error // from Wait, valid after done
}

// start launches argv with its output appended to logPath.
func (ps *procs) start(name, logPath, watch string, argv ...string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	c := &child{name: name, log: logPath, done: make(chan struct{}),
		out: &watchWriter{f: f, want: []byte(watch), seen: make(chan struct{})}}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.WaitDelay = 5 * time.Second // stray grandchildren must not hold Wait forever
	fmt.Fprintf(f, "### %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ps.mu.Lock()
	ps.live[c] = struct{}{}
	ps.mu.Unlock()
	go func() {
		c.err = c.cmd.Wait()
		ps.mu.Lock()
		delete(ps.live, c)
		ps.mu.Unlock()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// run starts argv and waits for it; a non-zero exit is an error that
// points at the log.
func (ps *procs) run(ctx context.Context, name, logPath string, argv ...string) (*child, error) {
	c, err := ps.start(name, logPath, "", argv...)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.stop(2 * time.Second)
		return c, ctx.Err()
	}
	if c.err != nil {
		return c, fmt.Errorf("%s: %w (see %s)", name, c.err, logPath)
	}
	return c, nil
}

// waitLine waits until the child printed its watch fragment and returns
// when that happened; it fails if the child exits first.
func (c *child) waitLine(ctx context.Context, timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.out.seen:
		return c.out.seenAt, nil
	case <-c.done:
		return time.Time{}, fmt.Errorf("%s exited (%v) before printing %q; see %s", c.name, c.err, c.out.want, c.log)
	case <-t.C:
		return time.Time{}, fmt.Errorf("%s did not print %q within %s; see %s", c.name, c.out.want, timeout, c.log)
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// stop sends SIGTERM to the child's process group, SIGKILL after grace,
// and waits for the child to be reaped.
func (c *child) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	pid := c.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-c.done
	}
}

// exited reports whether the child has ended and, if so, how.
func (c *child) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// usage is what the kernel accounted for a reaped child (its waited-for
// descendants included).
type usage struct {
	maxRSS int64 // bytes
	cpu    time.Duration
}

func (c *child) usage() usage {
	st := c.cmd.ProcessState
	if st == nil {
		return usage{}
	}
	u := usage{cpu: st.UserTime() + st.SystemTime()}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		u.maxRSS = int64(ru.Maxrss)
		if runtime.GOOS != "darwin" { // Linux and the BSDs count KiB, macOS bytes
			u.maxRSS *= 1024
		}
	}
	return u
}

// stopAll ends every child still running, all at once.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	cs := make([]*child, 0, len(ps.live))
	for c := range ps.live {
		cs = append(cs, c)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.stop(10 * time.Second) })
	}
	wg.Wait()
}

// watchWriter appends to a log file and notes when want first appears.
type watchWriter struct {
	mu     sync.Mutex
	f      *os.File
	want   []byte
	tail   []byte // bytes since the last newline, for fragments split across writes
	seen   chan struct{}
	seenAt time.Time
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.want) > 0 && w.seenAt.IsZero() {
		w.tail = append(w.tail, p...)
		if bytes.Contains(w.tail, w.want) {
			w.seenAt = time.Now()
			close(w.seen)
		} else if i := bytes.LastIndexByte(w.tail, '\n'); i >= 0 {
			w.tail = append(w.tail[:0], w.tail[i+1:]...)
		}
	}
	return w.f.Write(p)
}

// freePort asks the kernel for a free loopback port and releases it.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitPort waits until something accepts connections on addr.
func waitPort(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// lookBinary resolves a program given by path or found on PATH.
func lookBinary(p string) (string, error) {
	if strings.ContainsRune(p, filepath.Separator) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return "", err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s is not an executable file", abs)
		}
		return abs, nil
	}
	abs, err := exec.LookPath(p)
	if errors.Is(err, exec.ErrDot) {
		return filepath.Abs(abs)
	}
	return abs, err
}

// untilExit derives a context that ends when any of cs exits, so a wait
// on a daemon's work fails fast when the daemon dies.
func untilExit(ctx context.Context, cs ...*child) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	for _, c := range cs {
		go func() {
			select {
			case <-c.done:
				cancel(fmt.Errorf("%s exited (%v); see %s", c.name, c.err, c.log))
			case <-ctx.Done():
			}
		}()
	}
	return ctx, func() { cancel(nil) }
}
