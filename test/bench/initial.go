package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// oneShot is one timed copy of SRC into an empty DST.
type oneShot struct {
	secs    float64 // the whole measured command (for cp: cp and sync)
	subSecs float64 // cp alone, for cp+sync
	rss     int64
	cpu     float64
	store   int64 // jetsync: bytes of the broker's store once in sync
}

// copier copies src into dst (which does not exist yet) inside dir.
type copier struct {
	name string
	run  func(src, dst, dir string) (oneShot, error)
}

// initial times cp, rsync and jetsync copying a profile into an empty
// directory, interleaving the repetitions, and verifies every copy.
func (b *bench) initial(profile string) error {
	src, err := b.dataset(profile)
	if err != nil {
		return err
	}
	want, err := snapshot(src, snapOptions{})
	if err != nil {
		return err
	}
	copiers := []copier{{"cp-a+sync", b.runCp}, {"jetsync", b.runJetsyncOnce}}
	if b.rsync != "" {
		copiers = slices.Insert(copiers, 1, copier{"rsync", b.runRsync})
	}
	samples := map[string][]oneShot{}
	for rep := range b.cfg.reps {
		for _, c := range copiers {
			s, err := b.timedCopy(c, profile, rep, src, want)
			if err != nil {
				return err
			}
			samples[c.name] = append(samples[c.name], s)
		}
	}
	b.rep.add(initialResult(profile, samples, len(want), treeBytes(want)))
	return nil
}

func (b *bench) timedCopy(c copier, profile string, rep int, src string, want tree) (oneShot, error) {
	dir, err := b.runDir(fmt.Sprintf("initial-%s-%s", profile, c.name))
	if err != nil {
		return oneShot{}, err
	}
	dst := filepath.Join(dir, "dst")
	b.logf("initial %s: %s (rep %d/%d) into %s", profile, c.name, rep+1, b.cfg.reps, dst)
	dropCaches(b.cfg.dropCaches)
	s, err := c.run(src, dst, dir)
	if err != nil {
		return s, fmt.Errorf("initial %s %s: %w", profile, c.name, err)
	}
	if err := b.verify(fmt.Sprintf("initial %s %s", profile, c.name), want, dst, dir); err != nil {
		return s, err
	}
	b.logf("initial %s: %s %.2f s, verified", profile, c.name, s.secs)
	b.cleanup(dst, filepath.Join(dir, "state"))
	return s, nil
}

func (b *bench) runCp(src, dst, dir string) (oneShot, error) {
	log := filepath.Join(dir, "cp.log")
	t0 := time.Now()
	c, err := b.procs.run(b.ctx, "cp", log, "cp", "-a", src, dst)
	if err != nil {
		return oneShot{}, err
	}
	tCp := time.Since(t0)
	if _, err := b.procs.run(b.ctx, "sync", log, "sync"); err != nil {
		return oneShot{}, err
	}
	u := c.usage()
	return oneShot{secs: seconds(time.Since(t0)), subSecs: seconds(tCp), rss: u.maxRSS, cpu: u.cpu.Seconds()}, nil
}

func (b *bench) runRsync(src, dst, dir string) (oneShot, error) {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return oneShot{}, err
	}
	t0 := time.Now()
	c, err := b.procs.run(b.ctx, "rsync", filepath.Join(dir, "rsync.log"), b.rsync, "-a", src+"/", dst+"/")
	if err != nil {
		return oneShot{}, err
	}
	u := c.usage()
	return oneShot{secs: seconds(time.Since(t0)), rss: u.maxRSS, cpu: u.cpu.Seconds()}, nil
}

// runJetsyncOnce is `jetsync run SRC DST --data STATE --once`, start to exit.
func (b *bench) runJetsyncOnce(src, dst, dir string) (oneShot, error) {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return oneShot{}, err
	}
	log := filepath.Join(dir, "jetsync.log")
	t0 := time.Now()
	c, err := b.procs.start("jetsync run --once", log, "",
		b.cfg.jetsync, "run", src, dst, "--data", filepath.Join(dir, "state"), "--once")
	if err != nil {
		return oneShot{}, err
	}
	select {
	case <-c.done:
	case <-time.After(b.cfg.timeout):
		c.stop(10 * time.Second)
		return oneShot{}, fmt.Errorf("jetsync run --once did not finish within %s; see %s", b.cfg.timeout, log)
	case <-b.ctx.Done():
		c.stop(10 * time.Second)
		return oneShot{}, b.ctx.Err()
	}
	el := time.Since(t0)
	if c.err != nil {
		return oneShot{}, fmt.Errorf("jetsync run --once: %w; see %s", c.err, log)
	}
	u := c.usage()
	return oneShot{secs: seconds(el), rss: u.maxRSS, cpu: u.cpu.Seconds(),
		store: diskUsage(filepath.Join(dir, "state", "broker"))}, nil
}

// diskUsage is the size of the regular files under dir (0 if none).
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// initialResult: medians of every copier; ratios are jetsync's time over
// the other's.
func initialResult(profile string, samples map[string][]oneShot, entries int, bytes int64) result {
	med := func(name string, f func(oneShot) float64) float64 {
		var xs []float64
		for _, s := range samples[name] {
			xs = append(xs, f(s))
		}
		return median(xs)
	}
	secs := func(s oneShot) float64 { return s.secs }
	jet := med("jetsync", secs)
	jetRSS := med("jetsync", func(s oneShot) float64 { return float64(s.rss) })
	cpSync, cpOnly := med("cp-a+sync", secs), med("cp-a+sync", func(s oneShot) float64 { return s.subSecs })
	rs := med("rsync", secs)
	var line strings.Builder
	fmt.Fprintf(&line, "initial %-7s jetsync %s  rss %.0f MB | cp-a+sync %s (%s)", profile, fmtSecs(jet), jetRSS/1e6,
		fmtSecs(cpSync), ratio(jet, cpSync))
	if len(samples["rsync"]) > 0 {
		fmt.Fprintf(&line, " | rsync %s (%s)", fmtSecs(rs), ratio(jet, rs))
	}
	store := med("jetsync", func(s oneShot) float64 { return float64(s.store) })
	fmt.Fprintf(&line, " | broker store %s (%.1f %% of the tree)", fmtMB(store), 100*store/max(float64(bytes), 1))
	fmt.Fprintf(&line, "   [%d entries, %s, %d rep(s)]", entries, fmtMB(float64(bytes)), len(samples["jetsync"]))
	row := []string{cell("%.2f", jet), cell("%.0f", jetRSS/1e6), cell("%.1f", store/1e6),
		cell("%.1f", med("jetsync", func(s oneShot) float64 { return s.cpu })),
		cell("%.2f", cpSync), cell("%.2f", cpOnly), cell("%.2f", rs), ratio(jet, cpSync), ratio(jet, rs)}
	return result{part: "initial", profile: profile, line: line.String(), row: row}
}
