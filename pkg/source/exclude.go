package source

import (
	"os"
	"path"
	"slices"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// ignoredEvent is the watcher's Ignore: paths never published, and
// excluded paths whatever their type. A path only a directory-only
// pattern matches is reported, and visitPath looks at what it is.
func (s *Source) ignoredEvent(rel string) bool {
	return s.ignored(rel) || s.excl.Match(rel, false) && s.excl.Match(rel, true)
}

// excludedDir is the watcher's IgnoreDir: excluded directories are not
// watched.
func (s *Source) excludedDir(rel string) bool {
	return s.excl.Match(rel, true)
}

// excludedNow reports whether p, named on its own (by the watcher or the
// retry set), is excluded: an ancestor is, or p is as what it is on disk
// (as what the index knew it as, if it is gone).
func (s *Source) excludedNow(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && s.excl.Match(p[:i], true) {
			return true
		}
	}
	var isDir bool
	if fi, err := os.Lstat(s.abs(p)); err == nil {
		isDir = fi.IsDir()
	} else if e, err := s.ix.Head(p); err == nil && e != nil {
		isDir = e.Type == wire.Dir
	}
	return s.excl.Match(p, isDir)
}

// tombMissing defers the removal of an index entry that the listing of
// its directory lacks: as excluded if the listing skipped its name or it
// matches the patterns as what the index knew it as, else as deleted.
func (s *Source) tombMissing(st *step, e *index.Entry, skipped map[string]bool) {
	if e.Type == wire.Deleted && e.Seq != 0 {
		return
	}
	if skipped[path.Base(e.Path)] || s.excl.Match(e.Path, e.Type == wire.Dir) {
		st.tombs = append(st.tombs, tombRoot{path: e.Path, self: true, excluded: true})
		return
	}
	st.tombEntry(e)
}

// tombOrder orders a step's deletions: excluded subtrees first, so that
// their paths leave the index before a deletion of an ancestor would
// tombstone them as deleted, then the others; each group outermost
// roots only, deepest first.
func tombOrder(roots []tombRoot) []tombRoot {
	excl := slices.DeleteFunc(slices.Clone(roots), func(r tombRoot) bool { return !r.excluded })
	gone := slices.DeleteFunc(roots, func(r tombRoot) bool { return r.excluded })
	return append(outermost(excl), outermost(gone)...)
}

// metaCurrent reports whether a folder meta carries this run's patterns
// at the version they need.
func (s *Source) metaCurrent(m wire.Meta) bool {
	want := wire.Meta{Exclude: s.excl.Patterns()}
	return m.V == want.Version() && slices.Equal(m.Exclude, want.Exclude)
}
