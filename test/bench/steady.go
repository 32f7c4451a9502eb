package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// steady is a long-running `jetsync run SRC DST --metrics ADDR` on a
// private copy of a dataset, already in sync, that the latency, burst,
// bigmod and restart parts change and observe in turn.
type steady struct {
	b       *bench
	profile string
	dir     string
	src     string
	dst     string
	state   string
	metrics string // host:port of /metrics
	proc    *child
	idleRSS int64 // VmRSS once in sync (Linux)
	starts  int
}

// Paths inside the steady SRC.
const (
	latDir     = "_lat"
	burstDir   = "_burst"
	bigmodFile = "_bigmod/big-random-256M.bin"
	bigmodSize = 256 * miB
	inSyncLine = "in sync: " // what `jetsync run` prints once DST equals SRC
)

// steadyParts sets up the steady replica and runs the parts asked for,
// in the order latency (with the burst), bigmod, restart.
func (b *bench) steadyParts() (err error) {
	s, err := b.newSteady(b.cfg.steadyProf)
	if s != nil {
		defer func() { s.stop(err == nil || errors.Is(err, context.Canceled)) }()
	}
	if err != nil {
		return err
	}
	steps := []struct {
		part string
		run  func() error
	}{{"latency", s.latency}, {"latency", s.burst}, {"bigmod", s.bigmod}, {"restart", s.restart}}
	for _, st := range steps {
		if !b.want(st.part) {
			continue
		}
		if err := st.run(); err != nil {
			return err
		}
		if err := s.checkAlive(); err != nil {
			return err
		}
	}
	return s.finalCheck()
}

// newSteady copies the dataset (plus the latency and burst directories
// and the 256 MiB bigmod file) to a fresh SRC and starts jetsync on it.
func (b *bench) newSteady(profile string) (*steady, error) {
	data, err := b.dataset(profile)
	if err != nil {
		return nil, err
	}
	dir, err := b.runDir("steady-" + profile)
	if err != nil {
		return nil, err
	}
	s := &steady{b: b, profile: profile, dir: dir, src: filepath.Join(dir, "src"), dst: filepath.Join(dir, "dst"),
		state: filepath.Join(dir, "state")}
	b.logf("steady %s: preparing %s", profile, s.src)
	if _, err := b.procs.run(b.ctx, "cp", filepath.Join(dir, "setup.log"), "cp", "-a", data, s.src); err != nil {
		return nil, err
	}
	for _, d := range []string{latDir, burstDir, filepath.Dir(bigmodFile)} {
		if err := os.Mkdir(filepath.Join(s.src, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := writeBigmodFile(filepath.Join(s.src, bigmodFile)); err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.dst, 0o755); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := s.start(); err != nil {
		return nil, err
	}
	at, err := s.proc.waitLine(b.ctx, b.cfg.timeout)
	if err != nil {
		return s, err
	}
	b.logf("steady %s: initial sync in %.2f s", profile, at.Sub(t0).Seconds())
	if err := s.waitEqual(); err != nil {
		return s, err
	}
	time.Sleep(time.Second) // let the last status and metrics settle
	s.idleRSS = vmRSS(s.proc.cmd.Process.Pid)
	return s, nil
}

// writeBigmodFile writes 256 MiB of seeded random bytes, streaming.
func writeBigmodFile(p string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	err = writeContent(f, randomContent, bigmodSize, 0xb16, make([]byte, miB))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write bigmod file: %w", err)
	}
	return nil
}

// start launches `jetsync run` (no --once) with metrics on a fresh port.
func (s *steady) start() error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	s.metrics = addr
	s.starts++
	log := filepath.Join(s.dir, fmt.Sprintf("jetsync-%d.log", s.starts))
	s.proc, err = s.b.procs.start("jetsync run", log, inSyncLine, s.b.cfg.jetsync, "run", s.src, s.dst,
		"--data", s.state, "--metrics", addr)
	return err
}

// waitEqual waits until DST equals the current SRC.
func (s *steady) waitEqual() error {
	want, err := snapshot(s.src, snapOptions{})
	if err != nil {
		return err
	}
	ctx, cancel := untilExit(s.b.ctx, s.proc)
	defer cancel()
	_, err = waitEqual(ctx, want, s.dst, 100*time.Millisecond, s.b.cfg.timeout)
	return err
}

// checkAlive fails when jetsync died or the benchmark is interrupted.
func (s *steady) checkAlive() error {
	if err := s.b.ctx.Err(); err != nil {
		return err
	}
	if done, err := s.proc.exited(); done {
		return fmt.Errorf("jetsync run exited unexpectedly (%v); see %s", err, s.proc.log)
	}
	return nil
}

// finalCheck: after all parts DST must equal SRC exactly.
func (s *steady) finalCheck() error {
	if err := s.waitEqual(); err != nil {
		return fmt.Errorf("steady %s at the end: %w", s.profile, err)
	}
	want, err := snapshot(s.src, snapOptions{})
	if err != nil {
		return err
	}
	return s.b.verify("steady "+s.profile+" at the end", want, s.dst, s.dir)
}

// stop ends jetsync; it removes the trees only after a clean run, so a
// failure can be looked at.
func (s *steady) stop(clean bool) {
	if s.proc != nil {
		s.b.stopDaemon(s.proc, "steady "+s.profile)
	}
	if !clean {
		s.b.logf("steady %s: kept %s", s.profile, s.dir)
		return
	}
	s.b.cleanup(s.src, s.dst, s.state, filepath.Join(s.dir, "rsync-local"), filepath.Join(s.dir, "rsync-daemon"))
}

// scrape reads the running jetsync's metrics.
func (s *steady) scrape() (sample, error) {
	if s.metrics == "" {
		return nil, errors.New("no metrics address")
	}
	return scrape(s.metrics)
}
