package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunLogsProgressEvents: `jetsync run` whose stderr is not a terminal
// draws no status line but logs "progress" events during the initial
// sync, with the share done, the counts against the scan's totals, the
// rate and an ETA, then an "in sync: ..." event. (The events come every 300 ms
// here instead of 10 s, and --max-rate makes the sync last 3 s.)
func TestRunLogsProgressEvents(t *testing.T) {
	var buf bytes.Buffer
	saved, savedEvery, savedSample := logOutput, eventEvery, lineEvery
	logOutput = &statusLine{w: &buf, width: func() int { return 0 }}
	eventEvery, lineEvery = 300*time.Millisecond, 100*time.Millisecond
	defer func() { logOutput, eventEvery, lineEvery = saved, savedEvery, savedSample }()

	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{7})
	for i := range 6 {
		data := make([]byte, 1<<20)
		_, _ = rng.Read(data)
		if err := os.WriteFile(filepath.Join(src, "f"+strconv.Itoa(i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cmdRun(ctx, []string{src, filepath.Join(dir, "dst"), "--data", filepath.Join(dir, "data"), "--once",
		"--log-format", "json", "--max-rate", "2MiB"})
	if err != nil {
		t.Fatalf("run --once: %v\n%s", err, buf.String())
	}
	out := buf.String()
	if strings.Contains(out, "\r") {
		t.Fatalf("a status line on a non-terminal:\n%q", out)
	}
	fields := []string{"percent", "files", "files_total", "bytes", "bytes_total", "rate_bytes_per_s", "eta_s"}
	var progress, full, synced int
	for line := range strings.Lines(out) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		msg, _ := ev["msg"].(string)
		switch {
		case msg == "progress":
			progress++
			if hasAll(ev, fields) {
				full++
				if p := ev["percent"].(float64); p < 0 || p > 100 {
					t.Errorf("percent %v", p)
				}
			}
		case strings.HasPrefix(msg, "in sync: "): // what scripts wait for
			synced++
			if ev["files"].(float64) != 6 || ev["bytes"].(float64) != 6<<20 {
				t.Errorf("in sync event: %s", line)
			}
		}
	}
	t.Logf("%d progress events, %d with every field", progress, full)
	if full == 0 || synced != 1 {
		t.Fatalf("%d progress events with %v, %d in sync events, want some and one:\n%s", full, fields, synced, out)
	}
}

func hasAll(ev map[string]any, fields []string) bool {
	for _, f := range fields {
		if _, ok := ev[f]; !ok {
			return false
		}
	}
	return true
}
