package chaos

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jetsync/jetsync/test/treegen"
)

// linkTarget returns a symlink target for a link in dir: a relative path
// to an existing entry, a dangling one, an absolute one, or one escaping
// the root. Symlinks are replicated as they are, never followed.
func (w *workload) linkTarget(dir string) string {
	switch x := w.r.IntN(10); {
	case x < 5 && w.m.size() > 0:
		var to string
		switch {
		case w.m.files().len() > 0 && x < 3:
			to = w.m.files().pick(w.r)
		case w.m.dirs().len() > 0:
			to = w.m.dirs().pick(w.r)
		default:
			to = w.someNonDir()
		}
		return strings.Repeat("../", depthOf(dir)) + to
	case x < 7:
		return "no/such/" + w.freshName("t")
	case x < 9:
		return "/nonexistent/chaos/" + w.freshName("abs")
	default:
		return strings.Repeat("../", depthOf(dir)+3) + "outside"
	}
}

func (w *workload) symlink() (string, error) {
	dir := w.someDir(maxDirDepth)
	p, target := joinRel(dir, w.freshName("l")), w.linkTarget(dir)
	w.m.add(p, kLink)
	return fmt.Sprintf("%q -> %q", p, target), os.Symlink(target, w.abs(p))
}

// retarget points an existing symlink elsewhere: atomically, as `ln -sfn`
// with a rename does, or by removing and recreating it.
func (w *workload) retarget() (string, error) {
	if w.m.links().len() == 0 {
		return "", nil
	}
	p := w.m.links().pick(w.r)
	target := w.linkTarget(parentOf(p))
	desc := fmt.Sprintf("%q -> %q", p, target)
	if w.r.IntN(2) == 0 {
		tmp := joinRel(parentOf(p), w.freshName(".tmp-link"))
		if err := os.Symlink(target, w.abs(tmp)); err != nil {
			return desc, err
		}
		return desc + " (rename)", os.Rename(w.abs(tmp), w.abs(p))
	}
	if err := os.Remove(w.abs(p)); err != nil {
		return desc, err
	}
	return desc + " (remove, create)", os.Symlink(target, w.abs(p))
}

func (w *workload) chmod() (string, error) {
	if w.r.IntN(3) == 0 && w.m.dirs().len() > 0 {
		p, mode := w.m.dirs().pick(w.r), w.dirMode()
		return fmt.Sprintf("dir %q %04o", p, mode), os.Chmod(w.abs(p), treegen.UnixMode(mode))
	}
	if w.m.files().len() == 0 {
		return "", nil
	}
	p, mode := w.m.files().pick(w.r), w.fileMode()
	return fmt.Sprintf("%q %04o", p, mode), os.Chmod(w.abs(p), treegen.UnixMode(mode))
}

// touch sets the mtime of a file, directory or symlink to now or to a past
// time with nanoseconds.
func (w *workload) touch() (string, error) {
	if w.m.size() == 0 {
		return "", nil
	}
	var p string
	switch x := w.r.IntN(10); {
	case x < 6 && w.m.files().len() > 0:
		p = w.m.files().pick(w.r)
	case x < 8 && w.m.dirs().len() > 0:
		p = w.m.dirs().pick(w.r)
	case w.m.links().len() > 0:
		p = w.m.links().pick(w.r)
	default:
		return "", nil
	}
	at := time.Now()
	if w.r.IntN(2) == 0 {
		at = time.Date(2015, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(w.r.Int64N(10 * 365 * 24 * int64(time.Hour))))
	}
	desc := fmt.Sprintf("%q %s", p, at.UTC().Format(time.RFC3339Nano))
	if w.m.kinds[p] == kLink {
		return desc, treegen.SetLinkMtime(w.abs(p), at)
	}
	return desc, os.Chtimes(w.abs(p), at, at)
}

// replaceType turns a file into a directory (with a file inside) or a
// directory into a file, under the same name.
func (w *workload) replaceType() (string, error) {
	if w.r.IntN(2) == 0 && w.m.files().len() > 0 {
		p := w.m.files().pick(w.r)
		inside := joinRel(p, w.freshName("f"))
		w.m.remove(p)
		w.m.add(p, kDir)
		w.m.add(inside, kFile)
		desc := fmt.Sprintf("file %q -> dir with %q", p, inside)
		if err := os.Remove(w.abs(p)); err != nil {
			return desc, err
		}
		if err := os.Mkdir(w.abs(p), 0o755); err != nil {
			return desc, err
		}
		return desc, w.writeNew(inside, w.content(w.smallSize()), w.fileMode())
	}
	p, n := w.smallTree()
	if p == "" {
		return "", nil
	}
	w.m.removeTree(p)
	w.m.add(p, kFile)
	desc := fmt.Sprintf("dir %q (%d below) -> file", p, n)
	if err := os.RemoveAll(w.abs(p)); err != nil {
		return desc, err
	}
	return desc, w.writeNew(p, w.content(w.smallSize()), w.fileMode())
}

// pause leaves the tree alone for a moment, so faults also hit quiet
// daemons.
func (w *workload) pause() (string, error) {
	d := time.Duration(200+w.r.IntN(600)) * time.Millisecond
	w.skip = int(d / opInterval)
	return d.String(), nil
}

// burst writes 1,000-2,000 small files into a new directory as fast as
// it can.
func (w *workload) burst() (string, error) {
	dir := joinRel(w.someDir(maxDirDepth-1), w.freshName("burst"))
	n := burstMin + w.r.IntN(burstMax-burstMin+1)
	w.m.add(dir, kDir)
	if err := os.Mkdir(w.abs(dir), 0o755); err != nil {
		return fmt.Sprintf("%q", dir), err
	}
	for i := range n {
		p := joinRel(dir, fmt.Sprintf("b%04d", i))
		mode := uint32(0o644)
		if w.r.IntN(10) == 0 {
			mode = w.fileMode()
		}
		w.m.add(p, kFile)
		if err := w.writeNew(p, w.content(w.r.IntN(2<<10)), mode); err != nil {
			return fmt.Sprintf("%q file %d of %d", dir, i, n), err
		}
	}
	return fmt.Sprintf("%q %d files", dir, n), nil
}

// bigFile writes a file of tens of MiB, 1 MiB at a time, in place: the
// source sees it grow.
func (w *workload) bigFile() (string, error) {
	p := joinRel(w.someDir(maxDirDepth), w.freshName("big"))
	size := bigMin + w.r.IntN(bigMax-bigMin+1)
	desc := fmt.Sprintf("%q %d B", p, size)
	w.m.add(p, kFile)
	f, err := os.OpenFile(w.abs(p), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return desc, err
	}
	for left := size; left > 0 && err == nil; left -= 1 << 20 {
		_, err = f.Write(w.content(min(left, 1<<20)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return desc, err
}
