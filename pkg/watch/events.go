package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

func (w *Watcher) handleEvent(ctx context.Context, ev fsnotify.Event) {
	rel, ok := w.relPath(ev.Name)
	if !ok {
		return
	}
	if rel == "" {
		w.handleRootEvent(ev)
		return
	}
	// Bookkeeping comes before the Ignore filter: a path may have been
	// watched (or, on kqueue, opened) under a name that is ignored now.
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		w.forget(rel)
	}
	if ev.Has(fsnotify.Create) {
		w.noteEntry(rel)
	}
	if w.ignored(rel) {
		return
	}
	now := time.Now()
	w.pend.addPath(rel, now)
	if ev.Has(fsnotify.Create) {
		w.watchCreated(ctx, rel, now)
	}
}

// watchCreated follows a directory that appeared. Anything created inside it
// before its watch was in place produced no event, hence Dirs: the consumer
// walks it. A directory already watched was found by the walk of an
// ancestor that is itself reported, so it is not listed again.
func (w *Watcher) watchCreated(ctx context.Context, rel string, now time.Time) {
	fi, err := os.Lstat(w.abs(rel))
	if err != nil || !fi.IsDir() || w.ignoredDir(rel) {
		return
	}
	if _, ok := w.nodes[rel]; ok {
		return
	}
	w.pend.addDir(rel, now)
	if err := w.watchTree(ctx, rel); err != nil {
		w.log.Warn("watch new directory", "dir", rel, "err", err)
	}
}

// handleRootEvent reports a change of the root's own attributes, and the
// root going away: without the root there is nothing left to watch, and
// nothing to re-watch it from, so the consumer is told to rescan and its
// periodic scan takes over.
func (w *Watcher) handleRootEvent(ev fsnotify.Event) {
	if ev.Has(fsnotify.Chmod) {
		w.pend.markRoot(time.Now())
	}
	if !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return
	}
	w.log.Warn("watched root was removed or renamed; requesting a full rescan, changes are now found by the periodic scan only")
	w.forget("")
	w.capped.Store(true)
	w.pend.markRescan(time.Now())
}

// handleError treats every backend error as lost events: fsnotify reports
// only queue overflows and read failures here, and either way the only safe
// answer is a full rescan.
func (w *Watcher) handleError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		n := w.overflows.Add(1)
		w.log.Warn("kernel event queue overflowed; requesting a full rescan",
			"overflows", n, "hint", overflowHint)
	} else {
		w.log.Warn("watcher lost events; requesting a full rescan", "err", err)
	}
	w.pend.markRescan(time.Now())
}

// relPath maps a backend path to the slash-separated path below Root; ok is
// false for anything outside the tree.
func (w *Watcher) relPath(name string) (rel string, ok bool) {
	if name == w.root {
		return "", true
	}
	if !strings.HasPrefix(name, w.prefix) {
		return "", false
	}
	return filepath.ToSlash(name[len(w.prefix):]), true
}
