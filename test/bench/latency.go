package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	latSize     = 4 * kiB
	latInterval = 200 * time.Millisecond
	latPoll     = time.Millisecond
	latTimeout  = time.Minute // after the last write
)

// probeFile is one file written into SRC and awaited in DST.
type probeFile struct {
	rel     string
	data    []byte
	written time.Time // when os.WriteFile returned, i.e. after close()
	arrived time.Time
}

// probeFiles makes n files of size seeded bytes under dir.
func probeFiles(dir, prefix string, n int, seed uint64) []*probeFile {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	fs := make([]*probeFile, n)
	for i := range fs {
		data := make([]byte, latSize)
		fillRandom(r, data)
		fs[i] = &probeFile{rel: filepath.Join(dir, fmt.Sprintf("%s-%05d.bin", prefix, i)), data: data}
	}
	return fs
}

// arrived reports whether DST holds exactly f's bytes.
func (s *steady) arrived(f *probeFile) bool {
	got, err := os.ReadFile(filepath.Join(s.dst, f.rel))
	return err == nil && bytes.Equal(got, f.data)
}

// latency writes the probe files one every 200 ms, in place with
// os.WriteFile as a user would, and polls DST every millisecond for the
// exact bytes of each one still missing.
func (s *steady) latency() error {
	n := s.b.cfg.latN
	s.b.logf("latency %s: %d files of %d B, %s apart", s.profile, n, latSize, latInterval)
	files := probeFiles(latDir, "lat", n, 0x1a7)
	var pending []*probeFile
	next := time.Now()
	var deadline time.Time
	for i := 0; i < n || len(pending) > 0; {
		if i < n && !time.Now().Before(next) {
			f := files[i]
			if err := os.WriteFile(filepath.Join(s.src, f.rel), f.data, 0o644); err != nil {
				return err
			}
			f.written = time.Now()
			pending = append(pending, f)
			next = next.Add(latInterval)
			if earliest := f.written.Add(latInterval / 2); next.Before(earliest) {
				next = earliest // fell behind: catch up gently, never back to back
			}
			if i++; i == n {
				deadline = time.Now().Add(latTimeout)
			}
		}
		pending = slices.DeleteFunc(pending, func(f *probeFile) bool {
			if s.arrived(f) {
				f.arrived = time.Now()
				return true
			}
			return false
		})
		if i == n && time.Now().After(deadline) {
			break
		}
		if err := s.b.ctx.Err(); err != nil {
			return err
		}
		time.Sleep(latPoll)
	}
	s.b.rep.add(latencyResult(s.profile, files, s.idleRSS))
	if len(pending) > 0 {
		s.b.rep.note("latency %s: %d of %d files not in DST %s after the last write (first: %s)",
			s.profile, len(pending), n, latTimeout, pending[0].rel)
	}
	return nil
}

func latencyResult(profile string, files []*probeFile, idleRSS int64) result {
	var lat []float64
	for _, f := range files {
		if !f.arrived.IsZero() {
			lat = append(lat, f.arrived.Sub(f.written).Seconds())
		}
	}
	slices.Sort(lat)
	p50, p90, p99 := percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	mx := percentile(lat, 100)
	line := fmt.Sprintf("latency %-7s jetsync %d/%d files arrived  p50 %s  p90 %s  p99 %s  max %s  (4 KiB, 200 ms apart; rss once in sync %.0f MB)",
		profile, len(lat), len(files), fmtMs(p50), fmtMs(p90), fmtMs(p99), fmtMs(mx), float64(idleRSS)/1e6)
	row := []string{fmt.Sprint(len(files)), fmt.Sprint(len(lat)), cell("%.1f", p50*1000), cell("%.1f", p90*1000),
		cell("%.1f", p99*1000), cell("%.1f", mx*1000), cell("%.0f", float64(idleRSS)/1e6)}
	return result{part: "latency", profile: profile, line: line, row: row}
}

// burst writes many small files as fast as possible and measures how long
// after the last write DST has them all; then deletes them all and
// measures how long DST takes to follow.
func (s *steady) burst() error {
	n := s.b.cfg.burstN
	s.b.logf("burst %s: %d files of %d B", s.profile, n, latSize)
	files := probeFiles(burstDir, "burst", n, 0xb0257)
	t0 := time.Now()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(s.src, f.rel), f.data, 0o644); err != nil {
			return err
		}
	}
	tLast := time.Now()
	tAll, err := s.waitBurst(files)
	if err != nil {
		return err
	}
	s.b.logf("burst %s: all %d in DST %.2f s after the last write; deleting them", s.profile, n, tAll.Sub(tLast).Seconds())
	tDel := time.Now()
	for _, f := range files {
		if err := os.Remove(filepath.Join(s.src, f.rel)); err != nil {
			return err
		}
	}
	tDelLast := time.Now()
	tGone, err := s.waitEmpty(burstDir)
	if err != nil {
		return err
	}
	write, after := tLast.Sub(t0).Seconds(), tAll.Sub(tLast).Seconds()
	gone := tGone.Sub(tDelLast).Seconds()
	line := fmt.Sprintf("burst   %-7s jetsync %d files written in %s (%.0f/s); all in DST %s after the last write | deleted in %s, gone from DST %s after",
		s.profile, n, fmtSecs(write), float64(n)/write, fmtSecs(after), fmtSecs(tDelLast.Sub(tDel).Seconds()), fmtSecs(gone))
	s.b.rep.add(result{part: "burst", profile: s.profile, line: line,
		row: []string{fmt.Sprint(n), cell("%.2f", write), cell("%.2f", after), cell("%.2f", gone)}})
	return nil
}

// waitBurst polls DST until every file has its exact bytes: each round
// lists the directory once and reads only the names not yet confirmed.
func (s *steady) waitBurst(files []*probeFile) (time.Time, error) {
	pending := map[string]*probeFile{}
	for _, f := range files {
		pending[filepath.Base(f.rel)] = f
	}
	deadline := time.Now().Add(s.b.cfg.timeout)
	dir := filepath.Join(s.dst, burstDir)
	for {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if f, ok := pending[e.Name()]; ok && s.arrived(f) {
				delete(pending, e.Name())
			}
		}
		if len(pending) == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("burst: %d of %d files not in DST after %s", len(pending), len(files), s.b.cfg.timeout)
		}
		if err := s.checkAlive(); err != nil {
			return time.Time{}, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEmpty polls until DST's rel directory has no entries left.
func (s *steady) waitEmpty(rel string) (time.Time, error) {
	deadline := time.Now().Add(s.b.cfg.timeout)
	for {
		ents, err := os.ReadDir(filepath.Join(s.dst, rel))
		if err != nil {
			return time.Time{}, err
		}
		if len(ents) == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("burst: %d entries left in DST/%s after %s", len(ents), rel, s.b.cfg.timeout)
		}
		if err := s.checkAlive(); err != nil {
			return time.Time{}, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
