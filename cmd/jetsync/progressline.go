package main

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
)

// How progress is shown (variables so that tests can shorten them).
var (
	// lineEvery is how often the status line is redrawn on a terminal.
	lineEvery = time.Second
	// eventEvery is how often a "progress" event is logged, elsewhere,
	// while a sync is under way.
	eventEvery = 10 * time.Second
	// steadyEvery is the least time between two steady-state lines; there
	// is none at all while nothing happens.
	steadyEvery = time.Minute
)

// rateWindow is the time constant of the smoothed rates: an ETA follows
// the pace of the last ten seconds or so, not the average since the start
// (which the small files at the start, or a pause, would skew for long).
const rateWindow = 10 * time.Second

// meter smooths the rate of a growing count: an exponentially weighted
// moving average of its rate between samples. Until the count has moved
// for rateWindow, the rate is its average since it began to move, so that
// the wait before a sync starts (a scan, a reconcile) does not drag the
// first ETAs down.
type meter struct {
	at    time.Time // last sample
	v     float64
	rate  float64 // the moving average
	moved bool    // the count has moved since the first sample
	t0    time.Time
	v0    float64 // the last sample before it moved
}

// add samples the count v at now.
func (m *meter) add(now time.Time, v float64) {
	if m.at.IsZero() || (!m.moved && v == m.v) {
		m.at, m.v = now, v
		return
	}
	dt := now.Sub(m.at).Seconds()
	if dt <= 0 {
		return
	}
	if !m.moved {
		m.moved, m.t0, m.v0 = true, m.at, m.v
	}
	inst := (v - m.v) / dt
	m.at, m.v = now, v
	if el := now.Sub(m.t0).Seconds(); el < rateWindow.Seconds() {
		m.rate = (v - m.v0) / el // young: the average since it moved
		return
	}
	m.rate += (1 - math.Exp(-dt/rateWindow.Seconds())) * (inst - m.rate)
}

// perSecond is the smoothed rate, 0 until the count moves.
func (m *meter) perSecond() float64 { return max(m.rate, 0) }

// eta is how long remaining takes at rate per second; false when that
// cannot be told (nothing moves).
func eta(remaining, rate float64) (time.Duration, bool) {
	if remaining <= 0 {
		return 0, true
	}
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(min(remaining/rate, 1e8) * float64(time.Second)), true
}

// formatETA: 21s, 3m05s, 2h03m.
func formatETA(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}

// thousands writes n with separators: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// percent of done in total, rounded down: 100 only when all is done.
func percent(done, total int64) int {
	if total <= 0 || done >= total {
		return 100
	}
	return int(max(done, 0) * 100 / total)
}

// syncStats is one look at a sync under way: an initial sync counts files
// and bytes against the scan's totals, a replica's catch-up counts state
// records against the broker's pending count.
type syncStats struct {
	what        string // "initial sync", "catching up"
	unit        string // "files", "records"
	done, total int64  // in unit
	bytes       int64  // content applied
	bytesTotal  int64  // what all is; 0 when not counted (records)
	totalKnown  bool   // the totals are final (the scan ended)
	byteRate    float64
	unitRate    float64 // unit per second
	etaIn       time.Duration
	etaOK       bool
}

// eta is the time left at the rates: by bytes when they are counted,
// else by unit.
func (s syncStats) eta() (time.Duration, bool) {
	if s.bytesTotal > 0 {
		return eta(float64(s.bytesTotal-s.bytes), s.byteRate)
	}
	return eta(float64(s.total-s.done), s.unitRate)
}

// pct is the share done: by bytes when they are counted, else by unit.
func (s syncStats) pct() int {
	if s.bytesTotal > 0 {
		return percent(s.bytes, s.bytesTotal)
	}
	return percent(s.done, s.total)
}

// line is the status line, e.g. "initial sync: 42% 12,345/29,000 files,
// 1.2 GiB/2.9 GiB, 85.0 MiB/s, ETA 21s".
func (s syncStats) line() string {
	rate := human(int64(s.byteRate)) + "/s"
	if !s.totalKnown {
		return fmt.Sprintf("%s: scanning, %s/%s %s, %s/%s found so far, %s", s.what, thousands(s.done),
			thousands(s.total), s.unit, human(s.bytes), human(s.bytesTotal), rate)
	}
	head := fmt.Sprintf("%s: %d%% %s/%s %s", s.what, s.pct(), thousands(s.done), thousands(s.total), s.unit)
	if s.bytesTotal > 0 {
		head += fmt.Sprintf(", %s/%s, %s", human(s.bytes), human(s.bytesTotal), rate)
	} else {
		head += fmt.Sprintf(", %s %s/s, %s", thousands(int64(s.unitRate)), s.unit, rate)
	}
	if !s.etaOK {
		return head + ", ETA unknown"
	}
	return head + ", ETA " + formatETA(s.etaIn)
}

// attrs are the fields of a "progress" event; percent and eta_s only
// once they can be told.
func (s syncStats) attrs() []any {
	a := []any{slog.String("phase", s.what), slog.Int64(s.unit, s.done), slog.Int64(s.unit+"_total", s.total),
		slog.Int64("bytes", s.bytes)}
	if s.bytesTotal > 0 || s.unit == "files" {
		a = append(a, slog.Int64("bytes_total", s.bytesTotal))
	}
	a = append(a, slog.Int64("rate_bytes_per_s", int64(s.byteRate)))
	if s.unit != "files" {
		a = append(a, slog.Float64("rate_"+s.unit+"_per_s", math.Round(s.unitRate*10)/10))
	}
	if s.totalKnown {
		a = append(a, slog.Int("percent", s.pct()))
		if s.etaOK {
			a = append(a, slog.Int64("eta_s", int64(s.etaIn.Round(time.Second)/time.Second)))
		}
	}
	return a
}

// progressOut shows a sync's progress where stderr goes: a status line on
// a terminal, redrawn every lineEvery; elsewhere a "progress" event every
// eventEvery, the first one eventEvery after the sync began.
type progressOut struct {
	out       *statusLine
	log       *slog.Logger
	lastShown time.Time
}

// show shows s if it is time to.
func (o *progressOut) show(now time.Time, s syncStats) {
	every := eventEvery
	if o.out.tty {
		every = lineEvery
	}
	if o.lastShown.IsZero() {
		o.lastShown = now
		if !o.out.tty {
			return
		}
	} else if now.Sub(o.lastShown) < every {
		return
	}
	o.lastShown = now
	if o.out.tty {
		o.out.Set(s.line())
		return
	}
	o.log.Info("progress", s.attrs()...)
}

// done ends the display of a sync with a line of its own: on a terminal
// text, elsewhere an event with text as its message (scripts wait for
// "in sync: " in the log) and attrs.
func (o *progressOut) done(text string, attrs ...any) {
	o.lastShown = time.Time{}
	if o.out.tty {
		o.out.Set("")
		o.out.Println(text)
		return
	}
	o.log.Info(text, attrs...)
}

// steadyLines paces the steady state's lines: one when something happened
// since the last (records applied, errors), at most one per steadyEvery,
// none while nothing happens.
type steadyLines struct {
	last   time.Time
	seq    uint64
	errors int64
}

// start takes the state that the first line is compared with.
func (s *steadyLines) start(now time.Time, seq uint64, errors int64) {
	s.last, s.seq, s.errors = now, seq, errors
}

// due reports whether a line is due now for seq and errors, and if so
// takes them as the last line's; applied is what was applied since.
func (s *steadyLines) due(now time.Time, seq uint64, errors int64) (applied uint64, ok bool) {
	if now.Sub(s.last) < steadyEvery || (seq == s.seq && errors == s.errors) {
		return 0, false
	}
	applied = seq - min(s.seq, seq)
	s.start(now, seq, errors)
	return applied, true
}
