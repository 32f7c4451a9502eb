package e2e

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

	"github.com/jetsync/jetsync/test/treegen"
)

// pollEvery is the pace of eventually.
const pollEvery = 250 * time.Millisecond

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
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

// eventually polls cond every 250 ms until it holds. On timeout, or as
// soon as a daemon of the test dies, it fails the test with the last
// difference (first 20 lines) and the daemons' log tails.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "condition never evaluated"
	for {
		if err := checkAlive(t); err != nil {
			failWithLogs(t, fmt.Sprintf("%v\nlast difference:\n%s", err, firstLines(last, 20)))
		}
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			failWithLogs(t, fmt.Sprintf("not reached within %s; last difference:\n%s", timeout, firstLines(last, 20)))
		}
		time.Sleep(pollEvery)
	}
}

func failWithLogs(t testing.TB, msg string) {
	t.Helper()
	registry.Lock()
	registry.dumped[topName(t)] = true
	registry.Unlock()
	t.Fatalf("%s\ndaemon logs:%s", msg, logTails(t, 40))
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… and %d more lines", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// cliResult is the outcome of a jetsync command run to completion.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, firstLines(r.stdout, 30), firstLines(r.stderr, 30))
}

// runCLI runs `jetsync args...` and waits at most timeout for it. A
// command that had to be killed reports code -1.
func runCLI(t testing.TB, timeout time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, jetsyncBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.code = -1
		res.stderr += fmt.Sprintf("\n(e2e: killed after %s)", timeout)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("run jetsync %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// verifyCmd runs `jetsync verify` on dir.
func verifyCmd(t testing.TB, natsURL, folder, dir string, extra ...string) cliResult {
	t.Helper()
	args := append([]string{"verify", "--nats", natsURL, "--folder", folder, "--path", dir, "--log-format", "text"}, extra...)
	return runCLI(t, 2*time.Minute, args...)
}

// converge waits until every dst equals src (treegen.Compare) and `jetsync
// verify` exits 0 on it. It returns when the successful check started.
// While the trees keep differing it also runs verify now and then, so
// that a failure shows whether the published state or the replica is off.
func converge(t testing.TB, timeout time.Duration, natsURL, folder, src string, dsts ...string) time.Time {
	t.Helper()
	start := time.Now()
	var at, lastVerify time.Time
	verified := map[string]string{} // dst: latest verify output while differing
	eventually(t, timeout, func() (bool, string) {
		at = time.Now()
		for _, dst := range dsts {
			if ok, msg := sameTree(t, src, dst); !ok {
				if time.Since(start) > 20*time.Second && time.Since(lastVerify) > 15*time.Second {
					lastVerify = time.Now()
					verified[dst] = firstLines(verifyCmd(t, natsURL, folder, dst).stdout, 6)
				}
				if v, ok := verified[dst]; ok {
					msg = firstLines(msg, 12) + "\njetsync verify " + dst + ":\n" + v
				}
				return false, msg
			}
		}
		for _, dst := range dsts {
			if res := verifyCmd(t, natsURL, folder, dst); res.code != 0 {
				return false, fmt.Sprintf("trees equal but jetsync verify %s: %s", dst, res)
			}
		}
		return true, ""
	})
	return at
}

// sameTree compares metadata first, contents only when that passes.
func sameTree(t testing.TB, src, dst string) (bool, string) {
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

// waitListening waits until something accepts connections on addr.
func waitListening(t testing.TB, addr string) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// countFiles counts regular files under dir, temp files excluded.
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), treegen.TempPrefix) {
			n++
		}
		return nil
	})
	return n
}

// countTemps counts leftover replica temp files under dir.
func countTemps(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), treegen.TempPrefix) {
			n++
		}
		return nil
	})
	return n
}

// phase runs one step of a scenario and logs how long it took.
func phase(t *testing.T, name string, f func()) {
	t.Helper()
	start := time.Now()
	t.Logf("phase %s: start", name)
	f()
	t.Logf("phase %s: done in %s", name, time.Since(start).Round(time.Millisecond))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(content), mode))
}
