package jstest

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/nats-io/nats.go"
)

// startTimeout is generous because -race on small CI machines makes
// JetStream startup slow.
const startTimeout = 30 * time.Second

// RunJetStream starts a standalone broker on a random loopback port with its
// store in a fresh temporary directory. It admits anyone, as a test of
// something other than authentication wants.
func RunJetStream(t testing.TB) *broker.Broker {
	t.Helper()
	return Start(t, broker.Config{Listen: "127.0.0.1:-1"})
}

// Start starts a broker from cfg, filling in a temporary DataDir and a test
// logger when they are unset, and shuts it down when the test ends. Passing
// the DataDir of an earlier broker restarts on the same store; shut the
// earlier one down first. A broker that listens without cfg.Auth is made
// insecure: it admits anyone.
func Start(t testing.TB, cfg broker.Config) *broker.Broker {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Auth == nil {
		cfg.Insecure = true
	}
	var w *tbWriter
	if cfg.Logger == nil {
		w = &tbWriter{t: t}
		cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: logLevel()}))
		if cfg.ServerName != "" {
			// Cluster nodes share one test log.
			cfg.Logger = cfg.Logger.With("server", cfg.ServerName)
		}
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = startTimeout
	}
	b, err := broker.Start(cfg)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		b.Shutdown()
		w.close()
	})
	return b
}

// Connect opens an in-process client connection to b, closed when the test
// ends.
func Connect(t testing.TB, b *broker.Broker) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", b.ConnectOptions()...)
	if err != nil {
		t.Fatalf("connect to broker: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Eventually polls cond every 10ms until it returns true and fails the test
// with the formatted message if that does not happen within timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msgf string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: "+msgf, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logLevel() slog.Level {
	level := slog.LevelWarn
	if s := os.Getenv("JETSYNC_TEST_LOG"); s != "" {
		_ = level.UnmarshalText([]byte(s))
	}
	return level
}

// tbWriter sends log lines to the test log. Server goroutines can outlive
// the test by a little, and logging to a finished test panics, so lines
// written after close are dropped.
type tbWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
