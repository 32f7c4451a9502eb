package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// maxTombRoots bounds the deletions a step remembers before it publishes
// them early.
var maxTombRoots = 10000

// errRecover aborts a step because the broker lost data.
var errRecover = errors.New("broker data loss detected")

// step is one unit of the control loop's work (a full scan, a watcher
// batch, a retry round). It publishes creates and updates as it finds
// them and defers deletions to its end.
type step struct {
	tombs []tombRoot
	dirOK map[string]bool // ancestors checked by this step
	seen  map[string]bool // paths visited by visitPath
}

// tombRoot is a deleted subtree: the path and everything the index has
// below it, or with self unset only what is below it (a directory that
// became a file or symlink).
type tombRoot struct {
	path string
	self bool
	// excluded: the path is there but became excluded; its tombstones
	// say so and it leaves the index.
	excluded bool
}

// tombEntry defers the deletion of an index entry missing from disk;
// entries already tombstoned on the broker are left alone.
func (st *step) tombEntry(e *index.Entry) {
	if e.Type == wire.Deleted && e.Seq != 0 {
		return
	}
	st.tombs = append(st.tombs, tombRoot{path: e.Path, self: true})
}

// fullScan walks the whole tree against the index.
func (s *Source) fullScan(ctx context.Context) error {
	s.prog.setState(StateScanning)
	s.prog.scannedFiles.Store(0)
	s.prog.scannedBytes.Store(0)
	start := time.Now()
	s.com.flush() // the merge must see every acknowledged publish
	st := &step{}
	err := s.walkDir(ctx, st, "")
	if err == nil {
		err = s.visitRoot(ctx)
	}
	if err == nil {
		s.log.Debug("full scan walked the tree; waiting for the files still being read", "pending", s.track.count())
		err = s.finishStep(ctx, st)
	}
	if err == nil {
		d := time.Since(start)
		s.metrics.scan.Observe(d.Seconds())
		s.log.Info("full scan done", "files", s.prog.scannedFiles.Load(), "bytes", s.prog.scannedBytes.Load(),
			"duration", d.Round(time.Millisecond))
		err = s.completeMeta(ctx)
	}
	if err == nil {
		s.prog.setState(StateLive)
	}
	return err
}

// walkDir merges the listing of dir with the index's children of dir, both
// in name order, and recurses into subdirectories.
func (s *Source) walkDir(ctx context.Context, st *step, dir string) error {
	if err := s.interrupted(ctx); err != nil {
		return err
	}
	names, skipped, err := s.readDir(dir)
	if err != nil {
		s.readDirFailed(dir, err)
		return nil
	}
	it := s.ix.Children(dir)
	e := nextEntry(it)
	for _, name := range names {
		for e != nil && path.Base(e.Path) < name {
			s.tombMissing(st, e, skipped)
			e = nextEntry(it)
		}
		var old *index.Entry
		if e != nil && path.Base(e.Path) == name {
			old, e = e, nextEntry(it)
		}
		if err := s.visitWalk(ctx, st, join(dir, name), old, true); err != nil {
			return err
		}
	}
	for ; e != nil; e = nextEntry(it) {
		s.tombMissing(st, e, skipped)
	}
	if err := it.Err(); err != nil {
		return err
	}
	return s.maybeFlushTombs(ctx, st)
}

// readDirFailed handles a directory that cannot be listed. It is never
// taken for empty: its published children stay as they are.
func (s *Source) readDirFailed(dir string, err error) {
	if dir != "" && errors.Is(goneOr(err), errGone) {
		s.retry.add(dir) // removed since its lstat; look again
		return
	}
	s.log.Error("cannot read directory; keeping its published contents", "path", dir, "err", err)
	s.countError("readdir", err.Error())
}

func nextEntry(it *index.Iter) *index.Entry {
	if it.Next() {
		return it.Entry()
	}
	return nil
}

// readDir lists dir in name order without the names jetsync ignores or
// excludes; skipped holds the excluded names (nil if none).
func (s *Source) readDir(dir string) (names []string, skipped map[string]bool, err error) {
	des, err := s.readDirFn(s.abs(dir))
	if err != nil {
		return nil, nil, err
	}
	names = make([]string, 0, len(des))
	for _, de := range des {
		p := join(dir, de.Name())
		switch {
		case s.ignored(p):
		case s.excl.Match(p, de.IsDir()):
			if skipped == nil {
				skipped = make(map[string]bool)
			}
			skipped[de.Name()] = true
		default:
			names = append(names, de.Name())
		}
	}
	if dir == "" {
		s.rootEmpty.Store(false)
	}
	if dir == "" && len(names) == 0 && !s.cfg.AllowEmptyRoot {
		if st, err := s.ix.Stats(); err == nil && st.Files+st.Dirs+st.Symlinks > 0 {
			s.rootEmpty.Store(true) // nor is the root's own state published
			return nil, nil, fmt.Errorf("%w (%d files published; start with --allow-empty-root if the tree really was emptied)",
				errRootEmpty, st.Files+st.Symlinks)
		}
	}
	return names, skipped, nil
}

// errRootEmpty protects replicas from an unmounted volume: its empty
// mountpoint would otherwise look like every file was deleted.
var errRootEmpty = errors.New("the folder root is empty but content was published: is the volume mounted?")

// visitWalk visits p and walks it if it is a directory that a full scan
// walks (walkAll) or that the index did not know as a directory.
func (s *Source) visitWalk(ctx context.Context, st *step, p string, old *index.Entry, walkAll bool) error {
	isDir, err := s.visit(ctx, st, p, old)
	if err != nil || !isDir {
		return err
	}
	if walkAll || old == nil || old.Type != wire.Dir {
		return s.walkDir(ctx, st, p)
	}
	return nil
}

// visit publishes p if it differs from its index entry old (nil: none) and
// reports whether it is a directory.
func (s *Source) visit(ctx context.Context, st *step, p string, old *index.Entry) (bool, error) {
	fi, err := os.Lstat(s.abs(p))
	if err != nil {
		if errors.Is(goneOr(err), errGone) {
			if old != nil {
				st.tombEntry(old)
			}
			return false, nil
		}
		s.log.Error("cannot stat path", "path", p, "err", err)
		s.countError("stat", err.Error())
		return false, nil
	}
	cur := statOf(fi)
	s.links.note(p, linkID(fi))
	if cur.Type == "" {
		s.skippedSocket(p, fi)
		if old != nil {
			st.tombEntry(old)
		}
		return false, nil
	}
	if cur.Type != wire.Dir && old != nil && (old.Type == wire.Dir || old.Type == "" || old.Subtree) {
		// What was below it; Subtree covers a directory replaced by a file
		// whose record landed before the old contents were tombstoned.
		st.tombs = append(st.tombs, tombRoot{path: p})
	}
	if cur.Type == wire.File {
		s.prog.scannedFiles.Add(1)
		s.prog.scannedBytes.Add(cur.Size)
	}
	if old != nil && old.Seq != 0 && old.Stat == cur {
		return cur.Type == wire.Dir, nil
	}
	switch cur.Type {
	case wire.Dir:
		return true, s.publishDir(ctx, p, cur, fi)
	case wire.Symlink:
		return false, s.publishSymlink(ctx, p, cur, fi)
	case wire.Fifo, wire.CharDev, wire.BlockDev:
		return false, s.publishSpecial(ctx, p, cur, fi)
	default:
		return false, s.dispatch(ctx, p)
	}
}

// visitPath examines one path named by the watcher or the retry set.
func (s *Source) visitPath(ctx context.Context, st *step, p string, walk bool) error {
	if err := s.interrupted(ctx); err != nil {
		return err
	}
	if s.ignored(p) || st.seen[p] {
		return nil
	}
	if st.seen == nil {
		st.seen = make(map[string]bool)
	}
	st.seen[p] = true
	if !s.parentsOK(st, p) {
		st.tombs = append(st.tombs, tombRoot{path: p, self: true})
		return nil
	}
	if s.excludedNow(p) {
		st.tombs = append(st.tombs, tombRoot{path: p, self: true, excluded: true})
		return nil
	}
	old, err := s.ix.Head(p)
	if err != nil {
		s.log.Warn("unreadable index entry; publishing the path again", "path", p, "err", err)
		old = &index.Entry{Path: p}
	}
	if old == nil || old.Type != wire.Dir {
		has, err := s.ix.HasDescendants(p)
		switch {
		case err != nil:
			return err
		case old != nil:
			old.Subtree = has
		case has:
			old = &index.Entry{Path: p}
		}
	}
	if err := s.visitWalk(ctx, st, p, old, walk); err != nil {
		return err
	}
	// The other names of a file written through this one changed too.
	for _, peer := range s.links.peers(p) {
		if err := s.visitPath(ctx, st, peer, false); err != nil {
			return err
		}
	}
	return nil
}

// parentsOK reports whether every ancestor of p is a real directory, so
// that an lstat of p cannot pass through a symlink.
func (s *Source) parentsOK(st *step, p string) bool {
	if st.dirOK == nil {
		st.dirOK = make(map[string]bool)
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		a := p[:i]
		ok, seen := st.dirOK[a]
		if !seen {
			fi, err := os.Lstat(s.abs(a))
			ok = err == nil && fi.IsDir()
			st.dirOK[a] = ok
		}
		if !ok {
			return false
		}
	}
	return true
}

// interrupted stops a step on shutdown or when a recovery is pending.
func (s *Source) interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(s.recoverCh) > 0 {
		return errRecover
	}
	return nil
}

func (s *Source) maybeFlushTombs(ctx context.Context, st *step) error {
	if len(st.tombs) < maxTombRoots {
		return nil
	}
	return s.flushTombs(ctx, st)
}

// finishStep waits until everything the step published is acknowledged,
// then publishes its deletions, each subtree bottom-up, deepest first, and
// waits for those too. The index is then up to date for the next step,
// which also means no path is ever in flight twice.
func (s *Source) finishStep(ctx context.Context, st *step) error {
	if err := s.flushTombs(ctx, st); err != nil {
		return err
	}
	s.com.flush()
	return nil
}

func (s *Source) flushTombs(ctx context.Context, st *step) error {
	if err := s.barrier(ctx); err != nil {
		return err
	}
	if len(st.tombs) == 0 {
		return nil
	}
	// The subtrees to tombstone are read from the index: it must hold what
	// this step got acknowledged, or a path published under a root just
	// now would keep its live record on the broker.
	s.com.flush()
	roots := tombOrder(st.tombs)
	st.tombs = nil
	for _, r := range roots {
		if err := s.tombstoneTree(ctx, r); err != nil {
			return err
		}
	}
	return s.barrier(ctx)
}

// outermost drops roots covered by another root and orders the rest
// deepest first.
func outermost(roots []tombRoot) []tombRoot {
	sort.SliceStable(roots, func(i, j int) bool {
		di, dj := strings.Count(roots[i].path, "/"), strings.Count(roots[j].path, "/")
		return di < dj || di == dj && roots[i].self && !roots[j].self
	})
	kept := make(map[string]bool) // path → self
	var out []tombRoot
	for _, r := range roots {
		if covered(kept, r) {
			continue
		}
		kept[r.path] = kept[r.path] || r.self
		out = append(out, r)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func covered(kept map[string]bool, r tombRoot) bool {
	if _, ok := kept[r.path]; ok {
		return true // same path: the first one (self first) covers it
	}
	for a := wire.Parent(r.path); a != ""; a = wire.Parent(a) {
		if _, ok := kept[a]; ok {
			return true
		}
	}
	return false
}

// tombstoneTree publishes tombstones for r's subtree, children before
// parents, unless the path came back meanwhile.
func (s *Source) tombstoneTree(ctx context.Context, r tombRoot) error {
	if fi, ok := s.lstatConfined(r.path); ok && (r.self || fi.IsDir()) && !r.excluded {
		s.retry.add(r.path) // it came back; look at it again
		return nil
	}
	had := false
	it := s.ix.Descendants(r.path)
	for it.Next() {
		e := it.Entry()
		had = true
		if e.Type == wire.Deleted && e.Seq != 0 {
			continue
		}
		if err := s.sendTombstone(ctx, e.Path, r.excluded); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if _, ok := s.lstatConfined(r.path); ok && !r.excluded {
		return nil // a file or symlink replaced the directory
	}
	return s.tombstoneSelf(ctx, r.path, had, r.excluded)
}

func (s *Source) tombstoneSelf(ctx context.Context, p string, hadDescendants, excluded bool) error {
	e, err := s.ix.Head(p)
	switch {
	case err != nil:
	case e == nil && !hadDescendants:
		return nil // never published
	case e != nil && e.Type == wire.Deleted && e.Seq != 0:
		return nil
	}
	return s.sendTombstone(ctx, p, excluded)
}

// lstatConfined lstats p only if all its ancestors are real directories.
func (s *Source) lstatConfined(p string) (fs.FileInfo, bool) {
	if !s.parentsOK(&step{}, p) {
		return nil, false
	}
	fi, err := os.Lstat(s.abs(p))
	return fi, err == nil
}

// barrier waits until every publish decided so far is settled.
func (s *Source) barrier(ctx context.Context) error {
	if err := s.track.wait(ctx, s.abort); err != nil {
		return fmt.Errorf("wait for acks: %w", err)
	}
	return nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
