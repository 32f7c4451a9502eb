package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/replica"
)

func TestProgressFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 21 * time.Second: "21s", 185 * time.Second: "3m05s",
		2*time.Hour + 3*time.Minute + 10*time.Second: "2h03m"} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%s) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 12345: "12,345", 29000: "29,000",
		1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if percent(99, 100) != 99 || percent(999, 1000) != 99 || percent(5, 5) != 100 || percent(0, 0) != 100 {
		t.Error("percent must round down, and say 100 only when all is done")
	}
	if d, ok := eta(100, 10); !ok || d != 10*time.Second {
		t.Errorf("eta(100, 10/s) = %s %v", d, ok)
	}
	if _, ok := eta(100, 0); ok {
		t.Error("an ETA at a standstill")
	}

	gib := float64(1 << 30)
	s := syncStats{what: "initial sync", unit: "files", done: 12345, total: 29000, bytes: int64(1.22 * gib),
		bytesTotal: int64(2.9 * gib), totalKnown: true, byteRate: 85 << 20, etaIn: 21 * time.Second, etaOK: true}
	if got, want := s.line(), "initial sync: 42% 12,345/29,000 files, 1.2 GiB/2.9 GiB, 85.0 MiB/s, ETA 21s"; got != want {
		t.Errorf("line\n%q, want\n%q", got, want)
	}
	s.totalKnown = false
	if got, want := s.line(), "initial sync: scanning, 12,345/29,000 files, 1.2 GiB/2.9 GiB found so far, 85.0 MiB/s"; got != want {
		t.Errorf("line while scanning\n%q, want\n%q", got, want)
	}
	r := syncStats{what: "catching up", unit: "records", done: 1234, total: 2900, bytes: 5 << 20, totalKnown: true,
		byteRate: 85 << 20, unitRate: 120, etaIn: 14 * time.Second, etaOK: true}
	if got, want := r.line(), "catching up: 42% 1,234/2,900 records, 120 records/s, 85.0 MiB/s, ETA 14s"; got != want {
		t.Errorf("line\n%q, want\n%q", got, want)
	}
}

// TestMeterFollowsRecentPace: the rate an ETA is made from follows the
// last ten seconds or so, not the average since the start; and the wait
// before anything moves does not drag it down.
func TestMeterFollowsRecentPace(t *testing.T) {
	var m meter
	t0 := time.Unix(1700000000, 0)
	v := 0.0
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for s := range 5 { // nothing moves yet: a scan, a reconcile
		m.add(at(s), 0)
	}
	for s := 5; s <= 7; s++ {
		m.add(at(s), v)
		v += 10
	}
	if r := m.perSecond(); r < 9 || r > 11 {
		t.Fatalf("rate %.1f after 2 s at 10/s that followed 5 s of nothing, want 10", r)
	}
	for s := 8; s <= 65; s++ {
		m.add(at(s), v)
		v += 10
	}
	if r := m.perSecond(); r < 9.5 || r > 10.5 {
		t.Fatalf("rate %.1f at a steady 10/s", r)
	}
	for s := 66; s <= 75; s++ { // 10 s at 100/s
		v += 100
		m.add(at(s), v)
	}
	average := v / 75
	if r := m.perSecond(); r < 60 {
		t.Fatalf("rate %.1f 10 s into 100/s (the average since the start: %.1f), want above 60", r, average)
	}
	for s := 76; s <= 95; s++ {
		v += 100
		m.add(at(s), v)
	}
	if r := m.perSecond(); r < 90 {
		t.Fatalf("rate %.1f 30 s into 100/s, want above 90", r)
	}
}

// replicaTest drives a replicaProgress by hand, on a terminal or not.
func replicaTest(tty bool) (*replicaProgress, *bytes.Buffer, *bytes.Buffer) {
	out, screenBuf := testLine(tty)
	var logBuf bytes.Buffer
	p := &replicaProgress{out: out, log: slog.New(slog.NewJSONHandler(&logBuf, nil))}
	p.show = progressOut{out: out, log: p.log}
	return p, screenBuf, &logBuf
}

// TestIdleReplicaPrintsNothing: a replica with nothing to do prints no
// line and logs no event, however long it runs; one that applied a few
// live changes prints one line about them, and then nothing again.
func TestIdleReplicaPrintsNothing(t *testing.T) {
	for _, tty := range []bool{true, false} {
		p, screenBuf, logBuf := replicaTest(tty)
		t0 := time.Unix(1700000000, 0)
		pr := replica.Progress{State: "live", Cursor: 100, Applied: 10, Settled: true, Reconciled: true}
		p.steady.start(t0, pr.Cursor, pr.Errors)
		for s := range 3600 {
			p.tick(t0.Add(time.Duration(s)*time.Second), pr)
		}
		if screenBuf.Len()+logBuf.Len() > 0 {
			t.Fatalf("tty %v: an idle hour printed %q and logged %q", tty, screenBuf, logBuf)
		}
		pr.Cursor, pr.Applied = 105, 15 // five live changes, applied at once
		for s := 3600; s < 3600+600; s++ {
			p.tick(t0.Add(time.Duration(s)*time.Second), pr)
		}
		out := screenBuf.String() + logBuf.String()
		if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, "+5") && !strings.Contains(out, `"applied":5`) {
			t.Fatalf("tty %v: after 5 changes and 10 idle minutes: %q, want one line about the 5", tty, out)
		}
		if strings.Contains(out, "catching up") || strings.Contains(out, "progress") {
			t.Fatalf("tty %v: live changes shown as a catch-up: %q", tty, out)
		}
	}
}

// TestReplicaCatchUp: a backlog that lasts is shown with the share done
// and an ETA from the broker's pending count, as a status line on a
// terminal or as "progress" events elsewhere, and ends with a summary.
func TestReplicaCatchUp(t *testing.T) {
	for _, tty := range []bool{true, false} {
		p, screenBuf, logBuf := replicaTest(tty)
		t0 := time.Unix(1700000000, 0)
		pr := replica.Progress{State: "live", Cursor: 100, Applied: 0, Pending: 1000}
		p.steady.start(t0.Add(-time.Hour), 0, 0) // its last line was long ago
		for s := 0; pr.Pending > 0; s++ {
			p.tick(t0.Add(time.Duration(s)*time.Second), pr)
			pr.Finished += 50
			pr.Bytes += 50 << 20
			pr.Cursor += 50
			pr.Pending -= 50
		}
		p.tick(t0.Add(20*time.Second), pr)
		if tty {
			lines := screen(screenBuf.String())
			if !strings.Contains(screenBuf.String(), "catching up: 50% 500/1,000 records, 50 records/s, 50.0 MiB/s, ETA 10s") {
				t.Fatalf("no catch-up line halfway in %q", screenBuf)
			}
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "caught up: 1,000 records, 1000.0 MiB in 20s (50.0 MiB/s); applied up to seq 1100") || lines[1] != "" {
				t.Fatalf("screen after the catch-up: %q", lines)
			}
			continue
		}
		events := logBuf.String()
		if !strings.Contains(events, `"msg":"progress","phase":"catching up","records":650,"records_total":1000,"bytes":681574400,"rate_bytes_per_s":52428800,"rate_records_per_s":50,"percent":65,"eta_s":7}`) {
			t.Fatalf("no progress event 10 s after the catch-up showed (13 s in): %s", events)
		}
		if strings.Count(events, `"msg":"progress"`) != 1 || !strings.Contains(events, `"msg":"caught up: 1,000 records, 1000.0 MiB in 20s (50.0 MiB/s); applied up to seq 1100","records":1000`) {
			t.Fatalf("want one progress event in 20 s, then caught up: %s", events)
		}
	}
}
