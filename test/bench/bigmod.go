package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const (
	bigmodPatch  = miB
	bigmodOffset = 128 * miB
)

// bigmod overwrites 1 MiB in the middle of the 256 MiB random file in
// place and measures how long until DST has the new bytes and how many
// bytes jetsync published and fetched for it; then what `rsync -a` (local,
// whole-file) and rsync to a daemon (delta transfer) take for the same edit
// on copies made just before it.
func (s *steady) bigmod() error {
	srcFile, dstFile := filepath.Join(s.src, bigmodFile), filepath.Join(s.dst, bigmodFile)
	var copies []string // rsync-local, rsync-daemon
	if s.b.rsync != "" {
		for _, name := range []string{"rsync-local", "rsync-daemon"} {
			d := filepath.Join(s.dir, name)
			if _, err := s.b.procs.run(s.b.ctx, "rsync", filepath.Join(s.dir, name+".log"), s.b.rsync, "-a", s.src+"/", d+"/"); err != nil {
				return err
			}
			copies = append(copies, d)
		}
	}
	patch := make([]byte, bigmodPatch)
	fillRandom(rand.New(rand.NewPCG(0xb16, 0xd1f)), patch)
	m0, err := s.scrape()
	if err != nil {
		return err
	}
	s.b.logf("bigmod %s: overwriting %d B at offset %d of %s", s.profile, bigmodPatch, bigmodOffset, bigmodFile)
	last := statKey(dstFile)
	if err := patchFile(srcFile, patch, bigmodOffset); err != nil {
		return err
	}
	t0 := time.Now()
	hit, err := s.waitPatch(dstFile, patch, last)
	if err != nil {
		return err
	}
	secs := hit.Sub(t0).Seconds()
	if err := sameContent(srcFile, dstFile); err != nil {
		return fmt.Errorf("bigmod: %w", err)
	}
	time.Sleep(time.Second) // counters are updated after the apply
	m1, err := s.scrape()
	if err != nil {
		return err
	}
	r := bigmodRun{secs: secs, published: delta(m0, m1, mPublishedBytes), fetched: delta(m0, m1, mFetchedBytes),
		reused: delta(m0, m1, mReusedBytes), rsyncSecs: -1, rsyncSent: -1, daemonSecs: -1, daemonSent: -1}
	if len(copies) == 2 {
		if err := s.bigmodRsync(&r, copies); err != nil {
			return err
		}
	}
	s.b.rep.add(r.result(s.profile))
	return nil
}

// patchFile writes patch at off in place, as an editor or database would.
func patchFile(p string, patch []byte, off int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(patch, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("patch %s: %w", p, err)
	}
	return nil
}

// fileKey changes whenever a file is replaced or rewritten.
type fileKey struct {
	ino   uint64
	size  int64
	mtime int64
}

func statKey(p string) fileKey {
	fi, err := os.Stat(p)
	if err != nil {
		return fileKey{}
	}
	k := fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = uint64(st.Ino)
	}
	return k
}

// waitPatch stats p every millisecond and, whenever it changed, reads the
// patched range; it returns when the range holds patch.
func (s *steady) waitPatch(p string, patch []byte, last fileKey) (time.Time, error) {
	deadline := time.Now().Add(s.b.cfg.timeout)
	got := make([]byte, len(patch))
	for time.Now().Before(deadline) {
		if k := statKey(p); k != last && k.size > 0 {
			last = k
			if readAt(p, got, bigmodOffset) && bytes.Equal(got, patch) {
				return time.Now(), nil
			}
		}
		if err := s.checkAlive(); err != nil {
			return time.Time{}, err
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("bigmod: DST does not have the new bytes after %s", s.b.cfg.timeout)
}

func readAt(p string, b []byte, off int64) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.ReadAt(b, off)
	return err == nil || err == io.EOF
}

// sameContent compares two files' hashes.
func sameContent(a, b string) error {
	ha, err := (*hashCache)(nil).sum(a)
	if err != nil {
		return err
	}
	hb, err := (*hashCache)(nil).sum(b)
	if err != nil {
		return err
	}
	if ha != hb {
		return fmt.Errorf("%s and %s differ", a, b)
	}
	return nil
}

type bigmodRun struct {
	secs, published, fetched, reused float64
	rsyncSecs, rsyncSent             float64
	daemonSecs, daemonSent           float64
}

// bigmodRsync brings the two pre-edit copies up to date: one with a local
// `rsync -a` (whole-file), one through an rsync daemon (delta algorithm).
func (s *steady) bigmodRsync(r *bigmodRun, copies []string) error {
	logLocal := filepath.Join(s.dir, "rsync-local-bigmod.log")
	t0 := time.Now()
	if _, err := s.b.procs.run(s.b.ctx, "rsync", logLocal, s.b.rsync, "-a", "--stats", s.src+"/", copies[0]+"/"); err != nil {
		return err
	}
	r.rsyncSecs = time.Since(t0).Seconds()
	if n, err := rsyncSent(logLocal); err == nil {
		r.rsyncSent = float64(n)
	}
	d, err := s.b.startRsyncDaemon(s.dir, copies[1])
	if err != nil {
		return err
	}
	defer d.stop()
	logDaemon := filepath.Join(s.dir, "rsync-daemon-bigmod.log")
	t0 = time.Now()
	if _, err := s.b.procs.run(s.b.ctx, "rsync", logDaemon, s.b.rsync, "-a", "--stats", s.src+"/", d.url); err != nil {
		return err
	}
	r.daemonSecs = time.Since(t0).Seconds()
	if n, err := rsyncSent(logDaemon); err == nil {
		r.daemonSent = float64(n)
	}
	for _, c := range copies {
		if err := sameContent(filepath.Join(s.src, bigmodFile), filepath.Join(c, bigmodFile)); err != nil {
			return fmt.Errorf("bigmod rsync: %w", err)
		}
	}
	return nil
}

func (r bigmodRun) result(profile string) result {
	line := fmt.Sprintf("bigmod  %-7s jetsync %s  published %s  fetched %s  reused %s  (1 MiB at 128 MiB of a 256 MiB file)",
		profile, fmtSecs(r.secs), fmtMB(r.published), fmtMB(r.fetched), fmtMB(r.reused))
	if r.rsyncSecs >= 0 {
		line += fmt.Sprintf(" | rsync -a %s (%s) sent %s | rsync-daemon %s (%s) sent %s",
			fmtSecs(r.rsyncSecs), ratio(r.secs, r.rsyncSecs), fmtMB(r.rsyncSent),
			fmtSecs(r.daemonSecs), ratio(r.secs, r.daemonSecs), fmtMB(r.daemonSent))
	}
	row := []string{cell("%.3f", r.secs), cell("%.2f", r.published/1e6), cell("%.2f", r.fetched/1e6),
		cell("%.2f", r.reused/1e6), cell("%.3f", r.rsyncSecs), cell("%.2f", r.rsyncSent/1e6),
		cell("%.3f", r.daemonSecs), cell("%.2f", r.daemonSent/1e6)}
	return result{part: "bigmod", profile: profile, line: line, row: row}
}
