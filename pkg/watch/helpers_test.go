package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const waitFor = 10 * time.Second

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// collector records every batch a watcher delivers.
type collector struct {
	mu      sync.Mutex
	batches []Batch
	paths   map[string]bool
	dirs    map[string]bool
	rescans int
}

func newCollector() *collector {
	return &collector{paths: make(map[string]bool), dirs: make(map[string]bool)}
}

func (c *collector) run(ctx context.Context, in <-chan Batch) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-in:
			c.add(b)
		}
	}
}

func (c *collector) add(b Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, b)
	for _, p := range b.Paths {
		c.paths[p] = true
	}
	for _, d := range b.Dirs {
		c.dirs[d] = true
	}
	if b.Rescan {
		c.rescans++
	}
}

func (c *collector) hasPath(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[p]
}

func (c *collector) hasDir(d string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirs[d]
}

func (c *collector) rescanCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rescans
}

func (c *collector) snapshot() []Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Batch(nil), c.batches...)
}

// pathsWithPrefix returns the reported paths starting with prefix.
func (c *collector) pathsWithPrefix(prefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for p := range c.paths {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// startRun runs w until the test ends and fails the test if Run errs or does
// not return promptly on cancellation.
func startRun(t *testing.T, w *Watcher, out chan Batch) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = w.Run(ctx, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("Run: %v", runErr)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	select {
	case <-w.Ready():
	case <-done:
		t.Fatalf("Run returned before ready: %v", runErr)
	case <-time.After(waitFor):
		t.Fatal("watcher not ready")
	}
	return cancel
}

// start creates and runs a watcher on opts.Root with a collector reading its
// batches.
func start(t *testing.T, opts Options) (*Watcher, *collector) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	out := make(chan Batch)
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.run(ctx, out)
	startRun(t, w, out)
	return w, c
}

type testWriter struct{ t *testing.T }

func (tw testWriter) Write(p []byte) (int, error) {
	tw.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdirAll(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func watchedIs(w *Watcher, n int) func() bool {
	return func() bool { return w.Stats().Watched == n }
}

func tempRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	mkdirAll(t, root)
	return root
}
