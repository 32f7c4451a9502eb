package main

import (
	"fmt"
	"time"
)

// restart stops the in-sync `jetsync run` with SIGTERM, starts it again
// on the same state and measures how long until it says it is in sync and
// how much content it published and fetched doing so (nothing changed, so
// ideally none).
func (s *steady) restart() error {
	if err := s.waitEqual(); err != nil {
		return fmt.Errorf("restart: not in sync before: %w", err)
	}
	s.b.logf("restart %s: SIGTERM to jetsync run (pid %d)", s.profile, s.proc.cmd.Process.Pid)
	tStop := time.Now()
	s.b.stopDaemon(s.proc, "restart "+s.profile)
	stopSecs := time.Since(tStop).Seconds()
	t0 := time.Now()
	if err := s.start(); err != nil {
		return err
	}
	at, err := s.proc.waitLine(s.b.ctx, s.b.cfg.timeout)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	secs := at.Sub(t0).Seconds()
	time.Sleep(time.Second) // let late counter updates land
	m, err := s.scrape()
	if err != nil {
		return err
	}
	if err := s.waitEqual(); err != nil {
		return fmt.Errorf("restart: after the restart: %w", err)
	}
	pub, recs, fet, reu := m[mPublishedBytes], m[mPublishedRecords], m[mFetchedBytes], m[mReusedBytes]
	line := fmt.Sprintf("restart %-7s jetsync in sync %s after start (stop took %s)  published %s in %.0f records  fetched %s  reused %s",
		s.profile, fmtSecs(secs), fmtSecs(stopSecs), fmtMB(pub), recs, fmtMB(fet), fmtMB(reu))
	s.b.rep.add(result{part: "restart", profile: s.profile, line: line, row: []string{cell("%.2f", stopSecs),
		cell("%.2f", secs), cell("%.2f", pub/1e6), cell("%.0f", recs), cell("%.2f", fet/1e6), cell("%.2f", reu/1e6)}})
	return nil
}
