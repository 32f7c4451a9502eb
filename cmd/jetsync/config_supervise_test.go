package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// runs counts the runs of test folders and which are running now.
type runs struct {
	mu      sync.Mutex
	started map[string]int
	running map[string]bool
}

// unit is a folder that exports a gauge with its label and runs until
// its context ends, or fails at once when fail is set.
func (r *runs) unit(name, fp string, fail error) folderUnit {
	return folderUnit{name: name, fingerprint: fp, run: func(ctx context.Context, d *folderDeps) error {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_test_up", Help: "test", ConstLabels: prometheus.Labels{"folder": name}})
		d.reg.MustRegister(g)
		r.mu.Lock()
		r.started[name]++
		r.running[name] = true
		r.mu.Unlock()
		defer func() { r.mu.Lock(); r.running[name] = false; r.mu.Unlock() }()
		if fail != nil {
			return fail
		}
		<-ctx.Done()
		return nil
	}}
}

func (r *runs) get(name string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started[name], r.running[name]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not reached: %s", what)
		}
	}
}

// folderSeries lists the folders /metrics has the test gauge of.
func folderSeries(t *testing.T, m *folderMetrics) string {
	t.Helper()
	mfs, err := m.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out = append(out, m.GetLabel()[0].GetValue())
		}
	}
	return strings.Join(out, ",")
}

// TestConfigSupervisorApply: a reload starts added folders, stops
// removed ones, restarts changed ones and leaves the others running; a
// failing folder is started again and makes the daemon unhealthy while
// the others run; /metrics has the series of the running folders only.
func TestConfigSupervisorApply(t *testing.T) {
	r := &runs{started: map[string]int{}, running: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newSupervisor(&folderDeps{log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.apply(ctx, []folderUnit{r.unit("a", "1", nil), r.unit("b", "1", nil)}, "folder started")
	waitFor(t, "a and b running", func() bool { _, a := r.get("a"); _, b := r.get("b"); return a && b })
	if got := folderSeries(t, s.metrics); got != "a,b" {
		t.Errorf("series of folders %q, want a,b", got)
	}
	if err := s.health(); err != nil {
		t.Errorf("health: %v", err)
	}

	s.apply(ctx, []folderUnit{r.unit("a", "1", nil), r.unit("b", "2", nil), r.unit("c", "1", nil)}, "folder added")
	waitFor(t, "b restarted, c running", func() bool { n, b := r.get("b"); _, c := r.get("c"); return n == 2 && b && c })
	if n, running := r.get("a"); n != 1 || !running {
		t.Errorf("a, unchanged: %d starts, running %v; want 1, true", n, running)
	}

	s.apply(ctx, []folderUnit{r.unit("a", "1", nil), r.unit("c", "1", nil)}, "folder added")
	if _, running := r.get("b"); running {
		t.Error("b still runs after its removal")
	}
	if got := folderSeries(t, s.metrics); got != "a,c" {
		t.Errorf("series of folders %q after b's removal, want a,c", got)
	}

	broken := errors.New("tree not mounted")
	s.apply(ctx, []folderUnit{r.unit("a", "1", nil), r.unit("c", "1", nil), r.unit("d", "1", broken)}, "folder added")
	waitFor(t, "d unhealthy", func() bool { return s.health() != nil })
	if err := s.health(); !errors.Is(err, broken) || !strings.Contains(err.Error(), "folder d") {
		t.Errorf("health %v, want folder d's error", err)
	}
	waitFor(t, "d started again", func() bool { n, _ := r.get("d"); return n >= 2 })
	if err := s.health(); !errors.Is(err, broken) {
		t.Errorf("health %v while d keeps failing, want its error", err)
	}
	if _, running := r.get("a"); !running {
		t.Error("a stopped because d failed")
	}
	cancel()
	s.wait()
	for _, f := range []string{"a", "c"} {
		if _, running := r.get(f); running {
			t.Errorf("%s runs after the daemon's context ended", f)
		}
	}
}
