package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/treegen"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PollEvery is the pace of Eventually.
const PollEvery = 250 * time.Millisecond

// FreeAddr returns a loopback address ("127.0.0.1:port") nobody listens
// on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Eventually polls cond every PollEvery until it holds. On timeout, or as
// soon as a daemon of the test dies (CheckAlive), it fails the test with
// the last difference cond returned (first 20 lines) and the daemons' log
// tails.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "condition never evaluated"
	for {
		if err := CheckAlive(t); err != nil {
			FailWithLogs(t, fmt.Sprintf("%v\nlast difference:\n%s", err, FirstLines(last, 20)))
		}
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			FailWithLogs(t, fmt.Sprintf("not reached within %s; last difference:\n%s", timeout, FirstLines(last, 20)))
		}
		time.Sleep(PollEvery)
	}
}

// FailWithLogs fails the test now (t.Fatalf) with msg and the last 40 log
// lines of every daemon of its top-level test; the cleanup then does not
// print them a second time.
func FailWithLogs(t testing.TB, msg string) {
	t.Helper()
	registry.Lock()
	registry.dumped[topName(t)] = true
	registry.Unlock()
	t.Fatalf("%s\ndaemon logs:%s", msg, LogTails(t, 40))
}

// FirstLines returns the first n lines of s, and a note of how many more
// there were.
func FirstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… and %d more lines", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// CLIResult is the outcome of a jetsync command run to completion.
type CLIResult struct {
	Code           int // exit status; -1 if the command had to be killed
	Stdout, Stderr string
}

// String renders the exit status and the first 30 lines of stdout and
// stderr.
func (r CLIResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, FirstLines(r.Stdout, 30), FirstLines(r.Stderr, 30))
}

// RunCLI runs `jetsync args...` (Bin) and waits at most timeout for it. A
// command that had to be killed reports code -1. It fails t only if the
// command cannot be run at all.
func RunCLI(t testing.TB, timeout time.Duration, args ...string) CLIResult {
	t.Helper()
	return Binary(bin(t)).RunCLI(t, timeout, args...)
}

// RunCLI is RunCLI with binary b.
func (b Binary) RunCLI(t testing.TB, timeout time.Duration, args ...string) CLIResult {
	t.Helper()
	args = withCredentials(t, b, args)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, string(b), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := CLIResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.Code = -1
		res.Stderr += fmt.Sprintf("\n(e2e: killed after %s)", timeout)
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("run jetsync %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// Verify runs `jetsync verify` of folder on dir, with extra arguments,
// for at most 2 minutes.
func Verify(t testing.TB, natsURL, folder, dir string, extra ...string) CLIResult {
	t.Helper()
	return Binary(bin(t)).Verify(t, natsURL, folder, dir, extra...)
}

// Verify is Verify with binary b.
func (b Binary) Verify(t testing.TB, natsURL, folder, dir string, extra ...string) CLIResult {
	t.Helper()
	args := append([]string{"verify", "--nats", natsURL, "--folder", folder, "--path", dir, "--log-format", "text"}, extra...)
	return b.RunCLI(t, 2*time.Minute, args...)
}

// Converge waits until every dst equals src (SameTree) and `jetsync
// verify` exits 0 on it. It returns when the successful check started.
// While the trees keep differing it also runs verify now and then, so
// that a failure shows whether the published state or the replica is off.
func Converge(t testing.TB, timeout time.Duration, natsURL, folder, src string, dsts ...string) time.Time {
	t.Helper()
	start := time.Now()
	var at, lastVerify time.Time
	verified := map[string]string{} // dst: latest verify output while differing
	Eventually(t, timeout, func() (bool, string) {
		at = time.Now()
		for _, dst := range dsts {
			if ok, msg := SameTree(t, src, dst); !ok {
				if time.Since(start) > 20*time.Second && time.Since(lastVerify) > 15*time.Second {
					lastVerify = time.Now()
					verified[dst] = FirstLines(Verify(t, natsURL, folder, dst).Stdout, 6)
				}
				if v, ok := verified[dst]; ok {
					msg = FirstLines(msg, 12) + "\njetsync verify " + dst + ":\n" + v
				}
				return false, msg
			}
		}
		for _, dst := range dsts {
			if res := Verify(t, natsURL, folder, dst); res.Code != 0 {
				return false, fmt.Sprintf("trees equal but jetsync verify %s: %s", dst, res)
			}
		}
		return true, ""
	})
	return at
}

// SameTree compares two trees with treegen: metadata first, contents only
// when that passes. The string lists the differences.
func SameTree(t testing.TB, src, dst string) (bool, string) {
	t.Helper()
	for _, cmp := range []func(a, b string) ([]string, error){treegen.CompareMeta, treegen.Compare} {
		diffs, err := cmp(src, dst)
		if err != nil {
			return false, err.Error()
		}
		if len(diffs) > 0 {
			return false, fmt.Sprintf("%s vs %s: %d differences:\n%s", src, dst, len(diffs), strings.Join(diffs, "\n"))
		}
	}
	return true, ""
}

// WaitListening waits up to 30 seconds (Eventually) until something
// accepts connections on addr.
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	Eventually(t, 30*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// CountFiles counts regular files under dir, replica temp files
// (wire.TempPrefix) excluded.
func CountFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), wire.TempPrefix) {
			n++
		}
		return nil
	})
	return n
}

// CountTemps counts leftover replica temp files (wire.TempPrefix) under
// dir.
func CountTemps(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), wire.TempPrefix) {
			n++
		}
		return nil
	})
	return n
}

// Phase runs one step of a scenario and logs its start and how long it
// took.
func Phase(t testing.TB, name string, f func()) {
	t.Helper()
	start := time.Now()
	t.Logf("phase %s: start", name)
	f()
	t.Logf("phase %s: done in %s", name, time.Since(start).Round(time.Millisecond))
}

// Must fails the test now if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WriteFile writes content to path with mode, creating its parent
// directories, and fails the test on error.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	Must(t, os.WriteFile(path, []byte(content), mode))
}

// DialJetStream connects the test itself to the broker at url with the
// plain NATS client, to look at streams the way an operator's tools do,
// as the broker's administrator (AdminOptions). The connection reconnects
// for as long as the test runs.
func DialJetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	// A broker taking in new credentials may refuse a reconnect for a
	// moment: keep trying, as the daemons do, instead of closing.
	opts := append([]nats.Option{nats.Name("jetsync test: " + t.Name()), nats.MaxReconnects(-1), nats.IgnoreAuthErrorAbort()},
		AdminOptions(t, url)...)
	nc, err := nats.Connect(url, opts...)
	Must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	Must(t, err)
	return js
}

// GrepLines returns the lines of s that contain sub, e.g. of a daemon's log.
func GrepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
