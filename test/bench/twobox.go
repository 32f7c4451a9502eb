package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// boxRun is one two-box measurement.
type boxRun struct {
	secs      float64
	rss       int64 // peak: the source with its embedded broker, or rsync's client
	rssRep    int64 // peak of the replica
	published float64
	fetched   float64
	loopback  int64 // -1 where unknown
}

// twoBox times the two-process shape: `jetsync source` with its embedded
// broker on a loopback port and `jetsync replica` over TCP, from starting
// the source until DST equals SRC; then rsync to an rsync daemon on
// loopback, the classic two-machine copy.
func (b *bench) twoBox(profile string) error {
	src, err := b.dataset(profile)
	if err != nil {
		return err
	}
	want, err := snapshot(src, snapOptions{})
	if err != nil {
		return err
	}
	var jets, rs []boxRun
	for rep := range b.cfg.reps {
		b.logf("twobox %s: jetsync source + replica (rep %d/%d)", profile, rep+1, b.cfg.reps)
		j, err := b.twoBoxJetsync(profile, src, want)
		if err != nil {
			return fmt.Errorf("twobox %s jetsync: %w", profile, err)
		}
		jets = append(jets, j)
		if b.rsync == "" {
			continue
		}
		b.logf("twobox %s: rsync to a daemon (rep %d/%d)", profile, rep+1, b.cfg.reps)
		r, err := b.twoBoxRsync(profile, src, want)
		if err != nil {
			return fmt.Errorf("twobox %s rsync: %w", profile, err)
		}
		rs = append(rs, r)
	}
	b.rep.add(twoBoxResult(profile, jets, rs))
	return nil
}

func (b *bench) twoBoxJetsync(profile, src string, want tree) (boxRun, error) {
	dir, err := b.runDir("twobox-" + profile + "-jetsync")
	if err != nil {
		return boxRun{}, err
	}
	dst := filepath.Join(dir, "dst")
	if err := os.Mkdir(dst, 0o755); err != nil {
		return boxRun{}, err
	}
	var addrs [3]string // broker, source metrics, replica metrics
	for i := range addrs {
		if addrs[i], err = freePort(); err != nil {
			return boxRun{}, err
		}
	}
	// The replica's credentials, made before the source's broker starts
	// so that it admits them from the start.
	out, err := exec.Command(b.cfg.jetsync, "credentials", "--data", filepath.Join(dir, "source-state"),
		"--folder", "bench", "--replica", "bench").Output()
	if err != nil {
		return boxRun{}, fmt.Errorf("replica credentials: %w", err)
	}
	creds := strings.TrimSpace(string(out))
	dropCaches(b.cfg.dropCaches)
	lo0 := loopbackBytes()
	t0 := time.Now()
	srcProc, err := b.procs.start("jetsync source", filepath.Join(dir, "source.log"), "", b.cfg.jetsync, "source",
		"--folder", "bench", "--path", src, "--data", filepath.Join(dir, "source-state"),
		"--listen", addrs[0], "--metrics", addrs[1])
	if err != nil {
		return boxRun{}, err
	}
	defer srcProc.stop(10 * time.Second)
	if err := waitPort(b.ctx, addrs[0], 30*time.Second); err != nil {
		return boxRun{}, fmt.Errorf("source broker: %w; see %s", err, srcProc.log)
	}
	repProc, err := b.procs.start("jetsync replica", filepath.Join(dir, "replica.log"), "", b.cfg.jetsync, "replica",
		"--folder", "bench", "--path", dst, "--data", filepath.Join(dir, "replica-state"),
		"--nats", "nats://"+addrs[0], "--nkey", creds, "--metrics", addrs[2], "--id", "bench")
	if err != nil {
		return boxRun{}, err
	}
	defer repProc.stop(10 * time.Second)
	ctx, cancel := untilExit(b.ctx, srcProc, repProc)
	at, err := waitEqual(ctx, want, dst, 100*time.Millisecond, b.cfg.timeout)
	cancel()
	if err != nil {
		return boxRun{}, err
	}
	r := boxRun{secs: at.Sub(t0).Seconds(), loopback: -1}
	if lo0 >= 0 {
		r.loopback = loopbackBytes() - lo0
	}
	b.logf("twobox %s: jetsync in sync after %.2f s", profile, r.secs)
	if ms, err := scrape(addrs[1]); err == nil {
		r.published = ms[mPublishedBytes]
	} else {
		b.rep.note("twobox %s: source metrics: %v", profile, err)
	}
	if ms, err := scrape(addrs[2]); err == nil {
		r.fetched = ms[mFetchedBytes]
	} else {
		b.rep.note("twobox %s: replica metrics: %v", profile, err)
	}
	r.rssRep = b.stopDaemon(repProc, "twobox "+profile)
	r.rss = b.stopDaemon(srcProc, "twobox "+profile)
	if err := b.verify("twobox "+profile+" jetsync", want, dst, dir); err != nil {
		return r, err
	}
	b.cleanup(dst, filepath.Join(dir, "source-state"), filepath.Join(dir, "replica-state"))
	return r, nil
}

// stopDaemon sends SIGTERM, notes an unclean exit and returns the peak RSS.
func (b *bench) stopDaemon(c *child, what string) int64 {
	start := time.Now()
	c.stop(30 * time.Second)
	if c.err != nil {
		b.rep.note("%s: %s exited with %v after SIGTERM (%.1f s); see %s", what, c.name, c.err,
			time.Since(start).Seconds(), c.log)
	}
	return c.usage().maxRSS
}

// verify is the strict final comparison after a run: jetsync's temp files
// count as differences here.
func (b *bench) verify(what string, want tree, dst, dir string) error {
	diffs, err := compareWith(want, dst)
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		return diffError(fmt.Sprintf("%s (kept in %s)", what, dir), diffs)
	}
	return nil
}

func (b *bench) twoBoxRsync(profile, src string, want tree) (boxRun, error) {
	dir, err := b.runDir("twobox-" + profile + "-rsync")
	if err != nil {
		return boxRun{}, err
	}
	dst := filepath.Join(dir, "dst")
	if err := os.Mkdir(dst, 0o755); err != nil {
		return boxRun{}, err
	}
	d, err := b.startRsyncDaemon(dir, dst)
	if err != nil {
		return boxRun{}, err
	}
	defer d.stop()
	dropCaches(b.cfg.dropCaches)
	lo0 := loopbackBytes()
	t0 := time.Now()
	c, err := b.procs.run(b.ctx, "rsync client", filepath.Join(dir, "rsync.log"), b.rsync, "-a", "--stats", src+"/", d.url)
	if err != nil {
		return boxRun{}, err
	}
	r := boxRun{secs: time.Since(t0).Seconds(), rss: c.usage().maxRSS, loopback: -1}
	if lo0 >= 0 {
		r.loopback = loopbackBytes() - lo0
	}
	if sent, err := rsyncSent(c.log); err == nil {
		r.published = float64(sent)
	}
	d.stop()
	if err := b.verify("twobox "+profile+" rsync", want, dst, dir); err != nil {
		return r, err
	}
	b.cleanup(dst)
	return r, nil
}

func twoBoxResult(profile string, jets, rs []boxRun) result {
	med := func(runs []boxRun, f func(boxRun) float64) float64 {
		var xs []float64
		for _, r := range runs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	secs := func(r boxRun) float64 { return r.secs }
	lo := func(r boxRun) float64 { return float64(r.loopback) }
	j, r := med(jets, secs), med(rs, secs)
	rss := med(jets, func(r boxRun) float64 { return float64(r.rss) })
	rssRep := med(jets, func(r boxRun) float64 { return float64(r.rssRep) })
	pub := med(jets, func(r boxRun) float64 { return r.published })
	fet := med(jets, func(r boxRun) float64 { return r.fetched })
	var line strings.Builder
	fmt.Fprintf(&line, "twobox  %-7s jetsync %s  rss %.0f+%.0f MB (source+broker, replica)  published %s  fetched %s", profile,
		fmtSecs(j), rss/1e6, rssRep/1e6, fmtMB(pub), fmtMB(fet))
	if len(rs) > 0 {
		fmt.Fprintf(&line, " | rsync-daemon %s (%s)  sent %s", fmtSecs(r), ratio(j, r),
			fmtMB(med(rs, func(r boxRun) float64 { return r.published })))
	}
	row := []string{cell("%.2f", j), cell("%.0f", rss/1e6), cell("%.0f", rssRep/1e6), cell("%.1f", pub/1e6), cell("%.1f", fet/1e6),
		cell("%.0f", med(jets, lo)/1e6), cell("%.2f", r), cell("%.0f", med(rs, lo)/1e6), ratio(j, r)}
	return result{part: "twobox", profile: profile, line: line.String(), row: row}
}
