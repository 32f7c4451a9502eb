package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/replica"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/wire"
)

// pairProgress reports `jetsync run`: the initial sync's progress (a
// status line on a terminal, "progress" events elsewhere), then a line
// when something happened, at most once a minute; with --once it ends the
// run when DST equals SRC.
type pairProgress struct {
	src    *source.Source
	rep    *replica.Replica
	js     jetstream.JetStream
	folder string
	once   bool
	log    *slog.Logger
	out    *statusLine // nil: logOutput

	start        time.Time
	synced       bool
	lastSample   time.Time
	files, bytes meter
	show         progressOut
	steady       steadyLines
}

func (p *pairProgress) run(ctx context.Context) error {
	p.start = time.Now()
	if p.out == nil {
		p.out = logOutput
	}
	p.show = progressOut{out: p.out, log: p.log}
	defer p.out.Set("")
	// Frequent until in sync (a tick reads only in-memory progress until
	// the replica has settled), so that `run --once` exits within a tick;
	// then once a second for the steady-state lines.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := time.Now()
		if p.synced {
			p.steadyTick(now)
			continue
		}
		done, err := p.inSync(ctx)
		if err != nil {
			p.log.Debug("check sync", "err", err)
		}
		if !done {
			p.initialTick(now)
			continue
		}
		p.synced = true
		t.Reset(time.Second)
		p.printSynced(now)
		if p.once {
			return errOnceDone
		}
	}
}

// inSync: the source has scanned everything and published it, and the
// replica has applied up to the newest state record and settled.
func (p *pairProgress) inSync(ctx context.Context) (bool, error) {
	sp, rp := p.src.Progress(), p.rep.Progress()
	if !sp.InitialScanDone || sp.PendingFiles > 0 || !rp.Settled || !rp.Reconciled {
		return false, nil
	}
	if rp.Parked > 0 {
		// A record the replica parked is retried with backoff, and
		// dropped once a newer state of its path is applied: a file that
		// changed while it was read soon is. One that keeps failing is
		// not in sync, and waiting longer will not make it so.
		for _, s := range rp.Stuck {
			if s.Attempts >= onceGiveUpAttempts {
				return false, fmt.Errorf("%d paths cannot be applied on the replica; first: %s: %s", rp.Parked, s.Path, s.Reason)
			}
		}
		return false, nil
	}
	stream, err := p.js.Stream(ctx, wire.StreamName(p.folder))
	if err != nil {
		return false, err
	}
	last, err := bus.LastStateSeq(ctx, stream, p.folder)
	if err != nil {
		return false, err
	}
	return rp.Cursor >= last, nil
}

// onceGiveUpAttempts is how many retries of a parked record `run --once`
// waits for (about 35 s) before it reports the path as not applied.
const onceGiveUpAttempts = 3

// initialTick samples the initial sync's counts once a second and shows
// them.
func (p *pairProgress) initialTick(now time.Time) {
	if now.Sub(p.lastSample) < lineEvery {
		return
	}
	p.lastSample = now
	sp, rp := p.src.Progress(), p.rep.Progress()
	s := p.initialStats(sp, rp)
	p.files.add(now, float64(s.done))
	p.bytes.add(now, float64(s.bytes))
	s.byteRate, s.unitRate = p.bytes.perSecond(), p.files.perSecond()
	s.etaIn, s.etaOK = s.eta()
	p.show.show(now, s)
}

// initialStats: files and bytes applied against what the scan found
// (rates and ETA left to the caller). Bytes count the content of files
// still being applied as it arrives, so that a big file moves the line.
func (p *pairProgress) initialStats(sp source.Progress, rp replica.Progress) syncStats {
	arriving := min(max(rp.Received-rp.Fetched, 0), max(sp.ScannedBytes-rp.Bytes, 0))
	return syncStats{what: "initial sync", unit: "files", done: rp.Files, total: sp.ScannedFiles,
		bytes: rp.Bytes + arriving, bytesTotal: sp.ScannedBytes, totalKnown: sp.InitialScanDone}
}

func (p *pairProgress) printSynced(now time.Time) {
	sp, rp := p.src.Progress(), p.rep.Progress()
	el := now.Sub(p.start)
	rate := int64(float64(rp.Bytes) / max(el.Seconds(), 0.001))
	text := fmt.Sprintf("in sync: %d files, %s in %s (%s/s); published %s in %d records, fetched %s, reused %s locally",
		rp.Files, human(rp.Bytes), el.Round(time.Millisecond), human(rate),
		human(sp.PublishedBytes), sp.PublishedFiles, human(rp.Fetched), human(rp.Reused))
	p.show.done(text, "files", rp.Files, "bytes", rp.Bytes, "seconds", el.Seconds(), "rate_bytes_per_s", rate,
		"published_bytes", sp.PublishedBytes, "published_records", sp.PublishedFiles, "fetched_bytes", rp.Fetched,
		"reused_bytes", rp.Reused)
	p.steady.start(now, rp.Cursor, sp.Errors+rp.Errors)
}

// steadyTick prints a line when records were applied or errors happened
// since the last one, at most once a minute.
func (p *pairProgress) steadyTick(now time.Time) {
	sp, rp := p.src.Progress(), p.rep.Progress()
	applied, ok := p.steady.due(now, rp.Cursor, sp.Errors+rp.Errors)
	if !ok {
		return
	}
	if !p.out.tty {
		p.log.Info("live", "files", sp.ScannedFiles, "bytes", sp.ScannedBytes, "seq", rp.Cursor, "applied", applied,
			"lag_s", rp.Lag.Seconds(), "pending", rp.Pending, "source_errors", sp.Errors, "replica_errors", rp.Errors)
		return
	}
	p.out.Println(fmt.Sprintf("%s live: %d files, %s; applied up to seq %d (+%d since the last line), lag %.1fs, pending %d, errors %d/%d",
		now.Format(time.DateTime), sp.ScannedFiles, human(sp.ScannedBytes), rp.Cursor, applied,
		rp.Lag.Seconds(), rp.Pending, sp.Errors, rp.Errors))
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
