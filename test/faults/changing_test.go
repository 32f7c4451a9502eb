package faults

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestFilesChangingWhileRead writes two files continuously while the
// source publishes them and a reader polls the replica's copies every
// couple of milliseconds:
//
//   - rewritten.bin cycles through a fixed set of 1 MiB versions, each
//     written in place over the previous one with a single pwrite, in
//     bursts of back-to-back rewrites separated by pauses. Size never
//     changes, so only timestamps can tell the source that a read was
//     torn. Every content the reader sees must be exactly one of the
//     versions.
//   - appended.log grows by one line every 5 ms, with a short breath every
//     80 lines. Every content the reader sees must be a prefix of the
//     final content.
//
// After the writers stop, the replica must equal the source.
func TestFilesChangingWhileRead(t *testing.T) {
	t.Parallel()
	const (
		versions     = 6
		versionSize  = 1 << 20
		writeFor     = 6 * time.Second
		appendEvery  = 5 * time.Millisecond
		appendBurst  = 80 // lines between breaths
		appendBreath = 120 * time.Millisecond
		pollEvery    = 2 * time.Millisecond
	)
	r := newRig(t, "changing")
	ownTree(t, r.src, 404)

	// The known versions of rewritten.bin, by SHA-256.
	var content [versions][]byte
	known := map[[32]byte]int{}
	for i := range content {
		content[i] = randomBytes(uint64(4040+i), versionSize)
		known[sha256.Sum256(content[i])] = i
	}
	// Everything appended.log will ever hold, line by line.
	var full bytes.Buffer
	maxLines := int(writeFor/appendEvery) * 2
	lineEnds := make([]int, 0, maxLines)
	for i := range maxLines {
		fmt.Fprintf(&full, "%06d appended at a steady pace to test prefixes %s\n", i, [...]string{"a", "bb", "ccc"}[i%3])
		lineEnds = append(lineEnds, full.Len())
	}
	rewritten, appended := filepath.Join(r.src, "rewritten.bin"), filepath.Join(r.src, "appended.log")
	harness.Must(t, os.WriteFile(rewritten, content[0], 0o644))
	harness.Must(t, os.WriteFile(appended, nil, 0o644))

	r.startAll()
	r.converge()

	var (
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		lastVer   atomic.Int64 // index of the last complete version written
		lines     atomic.Int64 // lines appended so far
		rewrites  atomic.Int64
		mu        sync.Mutex
		problems  []string
		seenVer   = map[int]int{} // version → times observed on the replica
		seenLens  = map[int]bool{}
		reads     int
		absentRds int
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}

	wg.Go(func() { // appender
		f, err := os.OpenFile(appended, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			report("open %s: %v", appended, err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(appendEvery)
		defer tick.Stop()
		for i := 0; i < maxLines; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if i > 0 && i%appendBurst == 0 {
				// A file appended to every 5 ms never looks settled to the
				// source (see racyWindow in pkg/source); a short breath now
				// and then lets it publish intermediate lengths.
				time.Sleep(appendBreath)
			}
			start := 0
			if i > 0 {
				start = lineEnds[i-1]
			}
			if _, err := f.Write(full.Bytes()[start:lineEnds[i]]); err != nil {
				report("append: %v", err)
				return
			}
			lines.Store(int64(i + 1))
		}
	})

	wg.Go(func() { // rewriter
		f, err := os.OpenFile(rewritten, os.O_WRONLY, 0)
		if err != nil {
			report("open %s: %v", rewritten, err)
			return
		}
		defer f.Close()
		rng := rand.New(rand.NewPCG(404, 1))
		bursts := []time.Duration{0, 50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond}
		pauses := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond}
		v := 0
		for {
			// A burst of back-to-back rewrites: longer than the watcher's
			// maximum batching delay (200 ms), so the source reads while
			// the file is being rewritten; then a pause, long enough or
			// not for the source to read a settled version.
			end := time.Now().Add(bursts[rng.IntN(len(bursts))])
			for {
				select {
				case <-stop:
					return
				default:
				}
				v = (v + 1 + rng.IntN(versions-1)) % versions
				// One pwrite of a whole version over the previous one,
				// same size: the file is a mix of two versions only
				// during the system call, but a read that spans it reads
				// a mix. Only timestamps can tell the source.
				if _, err := f.WriteAt(content[v], 0); err != nil {
					report("rewrite: %v", err)
					return
				}
				lastVer.Store(int64(v))
				rewrites.Add(1)
				if !time.Now().Before(end) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(pauses[rng.IntN(len(pauses))])
		}
	})

	var readers sync.WaitGroup
	readers.Go(func() { // reader of the replica
		dstRewritten, dstAppended := filepath.Join(r.dst, "rewritten.bin"), filepath.Join(r.dst, "appended.log")
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(dstRewritten)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				mu.Lock()
				absentRds++
				mu.Unlock()
			case err != nil:
				report("read replica's rewritten.bin: %v", err)
			default:
				v, ok := known[sha256.Sum256(b)]
				mu.Lock()
				reads++
				if ok {
					seenVer[v]++
				}
				mu.Unlock()
				if !ok {
					report("replica's rewritten.bin (%d bytes) is none of the %d versions: torn (%s)", len(b), versions, tornSummary(b, content[:]))
				}
			}
			b, err = os.ReadFile(dstAppended)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				report("replica's appended.log disappeared")
			case err != nil:
				report("read replica's appended.log: %v", err)
			case !bytes.HasPrefix(full.Bytes(), b):
				report("replica's appended.log (%d bytes) is not a prefix of what was appended; first difference at byte %d",
					len(b), firstDiff(b, full.Bytes()))
			default:
				mu.Lock()
				seenLens[len(b)] = true
				mu.Unlock()
			}
			time.Sleep(pollEvery)
		}
	})

	time.Sleep(writeFor)
	close(stop)
	wg.Wait()
	readers.Wait()

	mu.Lock()
	t.Logf("%d rewrites, %d lines appended; the replica showed %d distinct versions of rewritten.bin %v in %d reads (%d while absent) and %d distinct lengths of appended.log",
		rewrites.Load(), lines.Load(), len(seenVer), seenVer, reads, absentRds, len(seenLens))
	for _, p := range problems {
		t.Error(p)
	}
	if len(seenVer) < 2 {
		t.Logf("warning: the replica showed fewer than two versions of rewritten.bin while it was rewritten; the check tested little")
	}
	mu.Unlock()

	r.converge()
	want := content[lastVer.Load()]
	if got, err := os.ReadFile(filepath.Join(r.dst, "rewritten.bin")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("replica's final rewritten.bin is not the last version written (err %v)", err)
	}
	if got, err := os.ReadFile(filepath.Join(r.dst, "appended.log")); err != nil || len(got) != lineEnds[lines.Load()-1] {
		t.Errorf("replica's final appended.log has %d bytes, want %d (err %v)", len(got), lineEnds[lines.Load()-1], err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// tornSummary says which versions the quarters of b come from.
func tornSummary(b []byte, versions [][]byte) string {
	var out []string
	q := max(len(b)/4, 1)
	for off := 0; off < len(b); off += q {
		piece, from := b[off:min(off+q, len(b))], "?"
		for i, v := range versions {
			if off+len(piece) <= len(v) && bytes.Equal(v[off:off+len(piece)], piece) {
				from = fmt.Sprint(i)
				break
			}
		}
		out = append(out, from)
	}
	return fmt.Sprintf("quarters from versions %v", out)
}
