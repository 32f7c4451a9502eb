package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jetsync/jetsync/pkg/replica"
)

// catchUpAfter is how long a backlog of state records must last to be
// shown as a catch-up: live changes are applied well within it, and a
// status line for each would only flicker.
var catchUpAfter = 3 * time.Second

// replicaProgress reports `jetsync replica`: while it works off a backlog
// (state records the broker still holds for its consumer), the share done,
// the rates and an ETA, as a status line on a terminal or "progress"
// events elsewhere; otherwise a line when something happened, at most
// once a minute, and nothing while idle.
type replicaProgress struct {
	rep *replica.Replica
	log *slog.Logger
	out *statusLine // nil: logOutput

	records, bytes meter
	show           progressOut
	steady         steadyLines

	backlog  bool      // records are pending
	catching bool      // the backlog is shown as a catch-up
	began    time.Time // when the backlog was first seen
	base     replica.Progress
}

func (p *replicaProgress) run(ctx context.Context) error {
	if p.out == nil {
		p.out = logOutput
	}
	p.show = progressOut{out: p.out, log: p.log}
	defer p.out.Set("")
	pr := p.rep.Progress()
	p.steady.start(time.Now(), pr.Cursor, pr.Errors)
	t := time.NewTicker(lineEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.tick(time.Now(), p.rep.Progress())
	}
}

// tick takes one look at the replica's progress.
func (p *replicaProgress) tick(now time.Time, pr replica.Progress) {
	p.records.add(now, float64(pr.Finished))
	p.bytes.add(now, float64(pr.Bytes))
	pending := left(pr)
	switch {
	case pending > 0 && !p.backlog:
		p.backlog, p.began, p.base = true, now, pr
	case pending == 0:
		p.backlog = false
	}
	if !p.catching && p.backlog && now.Sub(p.began) >= catchUpAfter {
		p.catching = true
	}
	switch {
	case !p.catching && p.backlog:
		return // a backlog that may be gone in a moment: counted by the next steady line if so
	case !p.catching:
		p.steadyTick(now, pr)
		return
	}
	if p.backlog {
		p.show.show(now, p.stats(pr, pending))
		return
	}
	p.catching = false
	p.caughtUp(now, pr)
}

// left is how many records the replica has still to apply: those the
// broker holds for its consumer and those it is applying. Parked records
// count as pending but wait for their retries: they are no backlog that
// the replica works off.
func left(pr replica.Progress) uint64 {
	return pr.Pending - min(uint64(pr.Parked), pr.Pending) + uint64(max(pr.InFlight, 0))
}

// stats: records done with since the backlog began against those plus
// the ones left; the ETA from the smoothed record rate.
func (p *replicaProgress) stats(pr replica.Progress, pending uint64) syncStats {
	done := pr.Finished - p.base.Finished
	s := syncStats{what: "catching up", unit: "records", done: done, total: done + int64(pending),
		bytes: pr.Bytes - p.base.Bytes, totalKnown: true, byteRate: p.bytes.perSecond(), unitRate: p.records.perSecond()}
	s.etaIn, s.etaOK = s.eta()
	return s
}

// caughtUp ends a catch-up with a summary.
func (p *replicaProgress) caughtUp(now time.Time, pr replica.Progress) {
	el := now.Sub(p.began)
	records, bytes := pr.Finished-p.base.Finished, pr.Bytes-p.base.Bytes
	rate := int64(float64(bytes) / max(el.Seconds(), 0.001))
	text := fmt.Sprintf("caught up: %s records, %s in %s (%s/s); applied up to seq %d",
		thousands(records), human(bytes), el.Round(time.Second), human(rate), pr.Cursor)
	p.show.done(text, "records", records, "bytes", bytes, "seconds", el.Seconds(),
		"rate_bytes_per_s", rate, "seq", pr.Cursor)
	p.steady.start(now, pr.Cursor, pr.Errors)
}

// steadyTick prints a line when records were applied or errors happened
// since the last one, at most once a minute.
func (p *replicaProgress) steadyTick(now time.Time, pr replica.Progress) {
	applied, ok := p.steady.due(now, pr.Cursor, pr.Errors)
	if !ok {
		return
	}
	if !p.out.tty {
		p.log.Info("live", "seq", pr.Cursor, "applied", applied, "lag_s", pr.Lag.Seconds(), "pending", pr.Pending,
			"parked", pr.Parked, "errors", pr.Errors)
		return
	}
	p.out.Println(fmt.Sprintf("%s %s: applied up to seq %d (+%d since the last line), lag %.1fs, pending %d, parked %d, errors %d",
		now.Format(time.DateTime), pr.State, pr.Cursor, applied, pr.Lag.Seconds(), pr.Pending, pr.Parked, pr.Errors))
}
