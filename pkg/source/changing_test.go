package source

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/wire"
)

// writeLoop calls write every pause until the test ends.
func writeLoop(t *testing.T, pause time.Duration, write func(i int) error) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := write(i); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(pause)
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// readMany reads path n times, a few milliseconds apart, and returns the
// reads that succeeded; every other outcome must be errUnstable.
func readMany(t *testing.T, s *Source, path string, n int) []*fileRead {
	t.Helper()
	sp, err := chunk.NewSplitter()
	must(t, err)
	var out []*fileRead
	for range n {
		fr, err := s.readOnce(context.Background(), sp, path)
		switch {
		case err == nil:
			out = append(out, fr)
		case err != errUnstable:
			t.Fatalf("read %s: %v", path, err)
		}
		time.Sleep(3 * time.Millisecond)
	}
	return out
}

// A log appended to without a pause is read as the prefix it had, which
// is what it held at that moment, and the file serves it.
func TestAppendedFileReadsArePrefixes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.manual()
	var full bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&full, "%06d appended without a pause\n", i)
	}
	line := len("000000 appended without a pause\n")
	p := filepath.Join(f.root, "app.log")
	must(t, os.WriteFile(p, nil, 0o644))
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	t.Cleanup(func() { fh.Close() })
	writeLoop(t, time.Millisecond, func(i int) error {
		_, err := fh.Write(full.Bytes()[i*line : (i+1)*line])
		return err
	})

	reads := readMany(t, s, "app.log", 100)
	prefixes := 0
	for _, fr := range reads {
		if fr.e.Hash != wire.Sum(full.Bytes()[:fr.e.Size]) {
			t.Fatalf("a read of %d bytes is not the prefix the log had (how %q)", fr.e.Size, fr.how)
		}
		if fr.how == readPrefix {
			prefixes++
			if fr.e.CTime != unsettledCTime {
				t.Errorf("a prefix is indexed with ctime %d: a later look would take it for the file's settled state", fr.e.CTime)
			}
		}
		if fr.pin != nil {
			fr.pin.release()
		}
	}
	if prefixes < len(reads)/2 || len(reads) < 50 {
		t.Errorf("%d of 100 reads succeeded, %d of them prefixes; want most reads to be prefixes", len(reads), prefixes)
	}
}

// A file rewritten in place gives no version while it has been changing
// for less than MaxStaleness/2; past that, a read a second one confirms,
// whose bytes are kept to serve it. Every version read is one written.
func TestRewrittenFileIsVerifiedPastHalfTheStaleness(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.manual()
	s.cfg.MaxStaleness = 4 * time.Second
	versions := [][]byte{[]byte(randomBytes(t, 128<<10)), []byte(randomBytes(t, 128<<10)), []byte(randomBytes(t, 128<<10))}
	valid := map[wire.Hash]bool{}
	for _, v := range versions {
		valid[wire.Sum(v)] = true
	}
	p := filepath.Join(f.root, "db")
	must(t, os.WriteFile(p, versions[0], 0o644))
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	must(t, err)
	t.Cleanup(func() { fh.Close() })
	writeLoop(t, 5*time.Millisecond, func(i int) error {
		_, err := fh.WriteAt(versions[i%len(versions)], 0)
		return err
	})

	s.busy.mark("db")
	since, _ := s.busy.since("db")
	for _, fr := range readMany(t, s, "db", 20) {
		if fr.how != "" && time.Since(since) < s.cfg.MaxStaleness/2 {
			t.Errorf("a read %q while the file had been changing for less than MaxStaleness/2", fr.how)
		}
	}
	time.Sleep(time.Until(since.Add(s.cfg.MaxStaleness / 2)))
	verified := 0
	for _, fr := range readMany(t, s, "db", 60) {
		if !valid[fr.e.Hash] {
			t.Fatalf("a %q read is none of the versions written: torn", fr.how)
		}
		if fr.how == readVerified {
			verified++
			b := make([]byte, fr.e.Size)
			if _, err := fr.pin.r.ReadAt(b, 0); err != nil || wire.Sum(b) != fr.e.Hash || fr.pin.f != nil {
				t.Errorf("a verified version is not held in memory for the content service (err %v)", err)
			}
		}
	}
	if verified == 0 {
		t.Error("no verified read of a file rewritten every 5 ms, past MaxStaleness/2")
	}
}

// A version read from a file that was renamed over since is served from
// the file the source opened: the path holds another version by the time
// a replica asks.
func TestReplacedVersionIsServedFromItsOpenFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.manualServing()
	ctx := context.Background()
	sp, err := chunk.NewSplitter()
	must(t, err)
	p := filepath.Join(f.root, "state.bin")
	v1, v2 := []byte(randomBytes(t, 300<<10)), []byte(randomBytes(t, 300<<10))
	// Written just now: the source reads it as a file that may change
	// again, and pins what it read.
	must(t, os.WriteFile(p, v1, 0o644))
	s.track.add()
	s.publishFile(ctx, sp, "state.bin")
	must(t, s.track.wait(ctx, nil))
	rec := f.record("state.bin")
	if rec == nil || rec.Hash != wire.Sum(v1) || len(rec.Chunks) < 2 {
		t.Fatalf("record %+v, want the first version in chunks", rec)
	}
	must(t, os.WriteFile(p+".tmp", v2, 0o644))
	must(t, os.Rename(p+".tmp", p))
	var got []byte
	for _, c := range rec.Chunks {
		_, data, err := f.content(wire.ContentChunks, "state.bin", c.Hash)
		if err != nil {
			t.Fatalf("chunk of the published version, after the file was replaced: %v", err)
		}
		got = append(got, data...)
	}
	if !bytes.Equal(got, v1) {
		t.Error("the chunks served are not the published version")
	}

	// Its tombstone unpins it: nothing is held for a path that is gone.
	must(t, os.Remove(p))
	must(t, s.publishTombstone(ctx, "state.bin"))
	s.pins.mu.Lock()
	n := len(s.pins.m)
	s.pins.mu.Unlock()
	if n != 0 {
		t.Errorf("%d versions pinned after the path was tombstoned", n)
	}
}

// Where the file system clones files (XFS, btrfs), a file rewritten in
// place is read from a clone, at once. JETSYNC_TEST_REFLINK_DIR names a
// directory on such a file system; the test is skipped without one.
func TestRewrittenFileIsReadFromAClone(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("JETSYNC_TEST_REFLINK_DIR")
	if dir == "" {
		t.Skip("JETSYNC_TEST_REFLINK_DIR is not set")
	}
	f := newFixture(t)
	root, err := os.MkdirTemp(dir, "clone-test-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	f.root = root
	s := f.manual()
	versions := [][]byte{[]byte(randomBytes(t, 1<<20)), []byte(randomBytes(t, 1<<20))}
	valid := map[wire.Hash]bool{wire.Sum(versions[0]): true, wire.Sum(versions[1]): true}
	p := filepath.Join(root, "db")
	must(t, os.WriteFile(p, versions[0], 0o644))
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	must(t, err)
	t.Cleanup(func() { fh.Close() })
	writeLoop(t, 0, func(i int) error {
		_, err := fh.WriteAt(versions[i%2], 0)
		return err
	})
	clones := 0
	for _, fr := range readMany(t, s, "db", 30) {
		if !valid[fr.e.Hash] {
			t.Fatalf("a %q read is none of the versions written: torn", fr.how)
		}
		if fr.how == readClone {
			clones++
			fr.pin.release()
		}
	}
	if clones < 20 {
		t.Errorf("%d of 30 reads of a file rewritten without a pause came from a clone", clones)
	}
}
