package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestRunListenCanBeWatched: `jetsync run --listen PORT` serves its broker
// on loopback, prints how to watch it, and the status and verify commands
// it prints (those of the README) work as written, with the credentials
// it generated.
func TestRunListenCanBeWatched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst, data := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "state")
	harness.WriteFile(t, filepath.Join(src, "hello.txt"), "hello\n", 0o644)
	_, port, err := net.SplitHostPort(harness.FreeAddr(t))
	harness.Must(t, err)
	run := harness.Start(t, "run", "run", src, dst, "--data", data, "--listen", port, "--log-format", "text")
	url := "nats://127.0.0.1:" + port

	var hints []string
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		log, _ := os.ReadFile(run.LogPath())
		hints = hints[:0]
		for _, l := range strings.Split(string(log), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "jetsync status ") || strings.HasPrefix(l, "jetsync verify ") {
				hints = append(hints, l)
			}
		}
		return len(hints) == 2, "no status and verify commands printed yet"
	})
	wantStatus := "jetsync status --nats " + url + " --nkey " + filepath.Join(data, "auth", "monitor.nk")
	wantVerify := "jetsync verify --nats " + url + " --nkey " + filepath.Join(data, "auth", "admin.nk") + " --folder default --path " + dst
	if hints[0] != wantStatus || hints[1] != wantVerify {
		t.Fatalf("printed\n  %s\n  %s\nwant\n  %s\n  %s", hints[0], hints[1], wantStatus, wantVerify)
	}

	harness.Eventually(t, time.Minute, func() (bool, string) {
		res := harness.RunCLI(t, 30*time.Second, strings.Fields(hints[1])[1:]...)
		return res.Code == 0 && strings.Contains(res.Stdout, "equal"), res.String()
	})
	harness.Eventually(t, time.Minute, func() (bool, string) {
		res := harness.RunCLI(t, 30*time.Second, strings.Fields(hints[0])[1:]...)
		if res.Stderr != "" {
			t.Fatalf("status as printed: want only its answer, got on stderr: %s", res)
		}
		return res.Code == 0 && strings.Contains(res.Stdout, "replica  local: live"), res.String()
	})

	// Loopback only, as asked by a port alone; and still with credentials.
	if res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url); res.Code == 0 ||
		!strings.Contains(res.Stderr, "authorization violation") {
		t.Fatalf("status without credentials: %s", res)
	}
	if ip := nonLoopbackIP(); ip != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), time.Second); err == nil {
			c.Close()
			t.Fatalf("the broker of --listen %s answers on %s: want loopback only", port, ip)
		}
	}
}

// nonLoopbackIP is an address of this machine other than loopback, or "".
func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
