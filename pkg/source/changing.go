package source

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// A file that keeps changing is still published, never torn. Reading it
// while it holds still is the rule (see racyWindow); when it does not, the
// source takes a version it can prove was the file's whole content at
// some moment, and keeps the means to serve it:
//
//   - a file renamed over (written to a temporary file, then renamed) is
//     read from the file it opened, which the rename does not change;
//     that open file serves the version's content (readReplaced);
//   - where the file system clones files at once (FICLONE: XFS, btrfs), a
//     clone is a frozen version: it is read and serves the content
//     (readClone);
//   - a file that only grew (a log) is published up to the size it had
//     when the read began, once a second read of that prefix gives the
//     same bytes; the open file serves it (readPrefix);
//   - otherwise, once the file has been changing for MaxStaleness/2, a
//     read during which its size, times and inode held, confirmed by a
//     second identical read: the file was not being rewritten meanwhile,
//     short of a writer that put back the very same bytes in between. Its
//     bytes (memPinMax at most) serve the content (readVerified).
//
// The versions read from a clone, a prefix or a confirmed read are
// indexed with unsettledCTime, and the file stays "changing" (busyFiles):
// it is looked at again every busyPeriod until a settled read of it is
// published.

// memPinMax bounds the content of one version kept in memory to serve it.
var memPinMax int64 = 4 << 20

// busyEvery is how often files found changing are looked at again, at
// most (MaxStaleness/10 if shorter).
var busyEvery = 250 * time.Millisecond

// fromClone reads the version a clone of the file holds, if the file
// system makes clones; nil if it does not (tried once per read).
func (rd *reading) fromClone(ctx context.Context) (*fileRead, error) {
	if rd.clone {
		return nil, nil
	}
	rd.clone = true
	c := rd.s.clones.clone(rd.f, filepath.Dir(rd.s.abs(rd.path)), rd.s.log)
	if c == nil {
		return nil, nil
	}
	cst, err := fstat(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	// Times and inode from the file before the clone, which may be older
	// than its content: the next look at the path reads it again.
	st := rd.st
	st.Size, st.CTime = cst.Size, unsettledCTime
	fr, err := rd.content(ctx, c, st, false)
	if err != nil {
		c.Close()
		return nil, err
	}
	fr.how = readClone
	if fr.inline == nil {
		fr.pin = filePin(c)
	} else {
		c.Close()
	}
	return fr, nil
}

// confirm decides about a read (fr) of a file that was changing: after is
// its stat once read (links names). A file that grows gives the prefix it
// had when the read began, one that held still during the read (once it
// has been changing long enough) the version read; both only if a second
// read gives the same bytes. Anything else is errUnstable.
func (rd *reading) confirm(ctx context.Context, fr *fileRead, after index.Stat, links uint64) (*fileRead, error) {
	grew := after.Ino == rd.st.Ino && (after.Size > rd.st.Size || rd.grew && after.Size == rd.st.Size)
	held := rd.same(after, links) && rd.s.relaxed(rd.path) && (fr.inline != nil || rd.kept != nil)
	if !grew && !held {
		return nil, errUnstable
	}
	h, err := rd.rehash(ctx)
	if err != nil {
		return nil, err
	}
	if h != fr.e.Hash {
		return nil, errUnstable
	}
	if held {
		if again, links, err := fstatLinks(rd.f); err != nil || !rd.same(again, links) {
			return nil, errUnstable
		}
	}
	fr.e.CTime = unsettledCTime
	switch {
	case grew:
		fr.how = readPrefix
		if fr.inline == nil {
			fr.pin = rd.filePin()
		}
	default:
		fr.how = readVerified
		if fr.inline == nil {
			fr.pin = rd.keptPin()
		}
	}
	return fr, nil
}

// rehash hashes the first rd.st.Size bytes of the file again, reading
// only its data ranges.
func (rd *reading) rehash(ctx context.Context) (wire.Hash, error) {
	buf := readPool.Get().(*[]byte)
	defer readPool.Put(buf)
	sum, n, err := chunk.HashPrefix(rd.f, rd.st.Size, *buf, func(k int) error {
		rd.s.metrics.read.Add(float64(k))
		return ctx.Err()
	})
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errRead, err)
		}
		return wire.Hash{}, err
	}
	if n != rd.st.Size {
		return wire.Hash{}, errUnstable
	}
	return sum, nil
}

// relaxed reports whether path has been changing for long enough that a
// version confirmed by a second read is published (readVerified).
func (s *Source) relaxed(path string) bool {
	since, ok := s.busy.since(path)
	return ok && time.Since(since) >= s.cfg.MaxStaleness/2
}

// busyFiles are the files found changing: since when, and when a read of
// them last ended. They are looked at again every busyPeriod, unless a
// watcher batch did meanwhile, until a settled read of them is published.
type busyFiles struct {
	mu sync.Mutex
	m  map[string]*busyFile
}

type busyFile struct {
	since, read time.Time
}

// mark notes that path is changing, as of a read that just ended, and
// reports whether it was not known to be.
func (b *busyFiles) mark(path string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if f, ok := b.m[path]; ok {
		f.read = now
		return false
	}
	if b.m == nil {
		b.m = make(map[string]*busyFile)
	}
	b.m[path] = &busyFile{since: now, read: now}
	return true
}

// settled forgets path and reports whether it was changing.
func (b *busyFiles) settled(path string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[path]
	delete(b.m, path)
	return ok
}

func (b *busyFiles) has(path string) bool {
	_, ok := b.since(path)
	return ok
}

func (b *busyFiles) since(path string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.m[path]; ok {
		return f.since, true
	}
	return time.Time{}, false
}

func (b *busyFiles) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// due returns, sorted, the changing files last read at least period ago.
func (b *busyFiles) due(period time.Duration) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for p, f := range b.m {
		if time.Since(f.read) >= period {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// busyRound looks again at the changing files due for it.
func (s *Source) busyRound(ctx context.Context) error {
	return s.visitAll(ctx, s.busy.due(s.busyPeriod()), nil, false)
}

// busyPeriod is how often the changing files are looked at again.
func (s *Source) busyPeriod() time.Duration {
	return max(min(busyEvery, s.cfg.MaxStaleness/10), 10*time.Millisecond)
}
