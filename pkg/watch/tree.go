package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// errCapReached marks a directory refused because MaxWatches is used up.
var errCapReached = errors.New("watch cap reached")

// errNotDir marks a directory that was replaced by something else between
// seeing it and watching it.
var errNotDir = errors.New("not a directory")

// dirNode is the bookkeeping for one watched directory. The parent of every
// node except the root is itself a node, which is what makes dropping a
// subtree proportional to its size.
type dirNode struct {
	subdirs map[string]struct{} // names of watched child directories
	// names holds, on kqueue only, every entry fsnotify opened a descriptor
	// for, so the descriptors can be both counted and released.
	names map[string]struct{}
	own   int // units for the directory itself
}

// cost is the node's share of the cap: one inotify watch per directory, or
// one descriptor per entry on kqueue (a directory's own descriptor is an
// entry of its parent, except for the root's).
func (n *dirNode) cost() int { return n.own + len(n.names) }

func newDirNode(rel string, entries []os.DirEntry) *dirNode {
	n := &dirNode{subdirs: make(map[string]struct{})}
	if !fdPerEntry || rel == "" {
		n.own = 1
	}
	if fdPerEntry {
		n.names = make(map[string]struct{}, len(entries))
		for _, e := range entries {
			n.names[e.Name()] = struct{}{}
		}
	}
	return n
}

// watchTree watches rel and every directory below it. It goes breadth first
// so that a cap leaves the deep parts, not the shallow ones, uncovered. It
// returns an error only if rel is the root and cannot be watched.
func (w *Watcher) watchTree(ctx context.Context, rel string) error {
	queue := []string{rel}
	for i := 0; i < len(queue); i++ {
		if ctx.Err() != nil {
			return nil
		}
		dir := queue[i]
		subdirs, err := w.watchDir(dir)
		if err != nil {
			if dir == "" {
				return fmt.Errorf("watch root %s: %w", w.root, err)
			}
			if !vanished(err) {
				w.log.Warn("skip directory", "dir", dir, "err", err)
			}
			continue
		}
		queue = append(queue, subdirs...)
	}
	return nil
}

// watchDir adds the watch for rel and returns the child directories to
// visit. The watch goes in before the listing so that an entry created in
// between shows up in the listing, as an event, or both, never neither.
// Refusals for cap or kernel limits are not errors: they are recorded and
// the subtree is left to the periodic scan.
func (w *Watcher) watchDir(rel string) ([]string, error) {
	if _, ok := w.nodes[rel]; ok {
		return nil, nil
	}
	if rel != "" {
		if _, ok := w.nodes[parentOf(rel)]; !ok {
			return nil, nil // unwatched parent: no events, no bookkeeping slot
		}
	}
	if w.full() {
		w.refuse(rel, errCapReached)
		return nil, nil
	}
	p := w.abs(rel)
	if err := w.fs.Add(p); err != nil {
		return nil, w.addFailed(rel, err)
	}
	entries, err := w.listDir(p)
	if err != nil {
		w.unwatch(p)
		return nil, err
	}
	n := newDirNode(rel, entries)
	if w.limit >= 0 && w.used+n.cost() > w.limit {
		w.unwatch(p)
		w.refuse(rel, errCapReached)
		return nil, nil
	}
	w.attach(rel, n)
	var subdirs []string
	for _, e := range entries {
		child := join(rel, e.Name())
		if e.IsDir() && !w.ignored(child) && !w.ignoredDir(child) {
			subdirs = append(subdirs, child)
		}
	}
	return subdirs, nil
}

// listDir re-checks the type after the watch is in place: the backends
// follow symlinks, and a directory swapped for a link must not pull a
// foreign tree in.
func (w *Watcher) listDir(p string) ([]os.DirEntry, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("stat directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("check directory %s: %w", p, errNotDir)
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	return entries, nil
}

func (w *Watcher) full() bool { return w.limit >= 0 && w.used >= w.limit }

// addFailed sorts a failed fsnotify Add: a directory that vanished or cannot
// be read is skipped, anything else is a kernel resource limit.
func (w *Watcher) addFailed(rel string, err error) error {
	if vanished(err) || errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("add watch: %w", err)
	}
	// kqueue may have opened part of the directory before failing.
	w.unwatch(w.abs(rel))
	// Lowering the cap to what the kernel granted stops every later
	// directory from hammering it with doomed calls; removals free room.
	w.limit = w.used
	w.refuse(rel, fmt.Errorf("add watch: %w", err))
	return nil
}

// refuse records a directory left unwatched. Each kind is logged once and
// asks for one rescan; repeating either would turn a capped tree with busy
// directory churn into a rescan loop. The refused directory itself still
// reaches the consumer through Dirs when it was announced by an event.
func (w *Watcher) refuse(rel string, cause error) {
	w.capped.Store(true)
	kind := "limit"
	if errors.Is(cause, errCapReached) {
		kind = "cap"
	}
	if w.warned[kind] {
		w.log.Debug("directory not watched", "dir", rel, "err", cause)
		return
	}
	w.warned[kind] = true
	if kind == "cap" {
		w.log.Warn("watch cap reached; the rest of the tree is covered by the periodic scan only",
			"max_watches", w.opts.MaxWatches, "watched", len(w.nodes), "dir", rel)
	} else {
		w.log.Warn("cannot add watch; the rest of the tree is covered by the periodic scan only",
			"dir", rel, "err", cause, "hint", limitHint)
	}
	if w.isReady {
		w.pend.markRescan(time.Now())
	}
}

func (w *Watcher) attach(rel string, n *dirNode) {
	w.nodes[rel] = n
	if rel != "" {
		w.nodes[parentOf(rel)].subdirs[baseOf(rel)] = struct{}{}
	}
	w.used += n.cost()
	w.watched.Store(int64(len(w.nodes)))
}

// forget drops rel and everything watched below it after a removal or
// rename. Watches under the old name must go before a directory reappears
// under a new one: inotify keys watches by inode, so re-adding would revive
// the stale watch and report new events under the old path.
func (w *Watcher) forget(rel string) {
	if rel != "" {
		if parent, ok := w.nodes[parentOf(rel)]; ok {
			name := baseOf(rel)
			delete(parent.subdirs, name)
			if _, had := parent.names[name]; had {
				delete(parent.names, name)
				w.used--
			}
		}
	}
	if n, ok := w.nodes[rel]; ok {
		w.drop(rel, n)
		w.watched.Store(int64(len(w.nodes)))
	}
}

func (w *Watcher) drop(rel string, n *dirNode) {
	for name := range n.subdirs {
		child := join(rel, name)
		if cn, ok := w.nodes[child]; ok {
			w.drop(child, cn)
		}
	}
	delete(w.nodes, rel)
	w.used -= n.cost()
	w.unwatch(w.abs(rel))
	// kqueue releases a renamed directory's own descriptor but not those of
	// its files; without this they would leak and report under stale names.
	for name := range n.names {
		w.unwatch(w.abs(join(rel, name)))
	}
}

// noteEntry accounts for the descriptor kqueue opens for a new entry of a
// watched directory. Such descriptors cannot be refused, so they only count
// towards the cap for later directories.
func (w *Watcher) noteEntry(rel string) {
	if !fdPerEntry {
		return
	}
	parent, ok := w.nodes[parentOf(rel)]
	if !ok {
		return
	}
	name := baseOf(rel)
	if _, had := parent.names[name]; !had {
		parent.names[name] = struct{}{}
		w.used++
	}
}

// unwatch removes a backend watch; it is routinely gone already because the
// kernel drops watches of deleted paths on its own.
func (w *Watcher) unwatch(p string) { _ = w.fs.Remove(p) }

func (w *Watcher) abs(rel string) string {
	if rel == "" {
		return w.root
	}
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

func (w *Watcher) ignored(rel string) bool {
	return w.opts.Ignore != nil && w.opts.Ignore(rel)
}

func (w *Watcher) ignoredDir(rel string) bool {
	return w.opts.IgnoreDir != nil && w.opts.IgnoreDir(rel)
}

func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, errNotDir)
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func parentOf(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

func baseOf(rel string) string {
	return rel[strings.LastIndexByte(rel, '/')+1:]
}
