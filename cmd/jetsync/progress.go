package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/replica"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/wire"
)

// pairProgress reports `jetsync run`: a live line during the initial sync
// on a terminal, then one line per minute; with --once it ends the run when
// DST equals SRC.
type pairProgress struct {
	src    *source.Source
	rep    *replica.Replica
	js     jetstream.JetStream
	folder string
	once   bool
	log    *slog.Logger

	start    time.Time
	synced   bool
	lastLine time.Time
	lastSeq  uint64
}

func (p *pairProgress) run(ctx context.Context) error {
	p.start = time.Now()
	tty := isTerminal(os.Stderr)
	// Frequent until in sync (a tick reads only in-memory progress until
	// the replica has settled), so that `run --once` exits within a tick;
	// then once a second for the minute lines.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !p.synced {
			done, err := p.inSync(ctx)
			if err != nil {
				p.log.Debug("check sync", "err", err)
			}
			if done {
				p.synced = true
				t.Reset(time.Second)
				p.lastLine = time.Now()
				p.printSynced(tty)
				if p.once {
					return errOnceDone
				}
				continue
			}
			if tty && time.Since(p.lastLine) >= time.Second {
				p.lastLine = time.Now()
				fmt.Fprint(os.Stderr, "\r"+p.initialLine()+"\x1b[K")
			}
			continue
		}
		if time.Since(p.lastLine) >= time.Minute {
			p.lastLine = time.Now()
			p.steadyLine()
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

func (p *pairProgress) initialLine() string {
	sp, rp := p.src.Progress(), p.rep.Progress()
	el := time.Since(p.start).Seconds()
	rate := float64(rp.Bytes) / max(el, 0.001)
	total := "scanning"
	if sp.InitialScanDone {
		total = "scanned"
	}
	return fmt.Sprintf("initial sync: %d/%d files, %s/%s (%s), %s/s, %s elapsed",
		rp.Files, sp.ScannedFiles, human(rp.Bytes), human(sp.ScannedBytes), total, human(int64(rate)),
		time.Since(p.start).Round(time.Second))
}

func (p *pairProgress) printSynced(tty bool) {
	sp, rp := p.src.Progress(), p.rep.Progress()
	el := time.Since(p.start)
	msg := fmt.Sprintf("in sync: %d files, %s in %s (%s/s); published %s in %d records, fetched %s, reused %s locally",
		rp.Files, human(rp.Bytes), el.Round(time.Millisecond), human(int64(float64(rp.Bytes)/max(el.Seconds(), 0.001))),
		human(sp.PublishedBytes), sp.PublishedFiles, human(rp.Fetched), human(rp.Reused))
	if tty {
		fmt.Fprint(os.Stderr, "\r\x1b[K")
	}
	fmt.Fprintln(os.Stderr, msg)
	p.lastSeq = rp.Cursor
}

func (p *pairProgress) steadyLine() {
	sp, rp := p.src.Progress(), p.rep.Progress()
	fmt.Fprintf(os.Stderr, "%s live: %d files, %s; applied up to seq %d (+%d this minute), lag %.1fs, pending %d, errors %d/%d\n",
		time.Now().Format(time.DateTime), sp.ScannedFiles, human(sp.ScannedBytes), rp.Cursor, rp.Cursor-min(p.lastSeq, rp.Cursor),
		rp.Lag.Seconds(), rp.Pending, sp.Errors, rp.Errors)
	p.lastSeq = rp.Cursor
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
