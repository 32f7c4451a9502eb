package fsroot

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
)

// Walk calls fn for everything beneath the root, depth first, each
// directory's entries in lexical byte order, parents before children, with relative slash paths. It never follows symlinks
// and skips temp files. fn may return fs.SkipDir (for a directory: skip
// it; otherwise: skip the rest of its directory) or fs.SkipAll. A
// directory that vanishes during the walk is skipped.
func (r *Root) Walk(fn func(path string, d fs.DirEntry) error) error {
	return r.walk(func(path string, d fs.DirEntry) error {
		if IsTemp(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return fn(path, d)
	})
}

// CountTree returns how many entries lie beneath the directory path, at
// any depth; 0 for anything else.
func (r *Root) CountTree(path string) (int, error) {
	fi, err := r.Lstat(path)
	if err != nil || !fi.IsDir() {
		return 0, nil
	}
	n := 0
	err = r.walkDir(path, func(string, fs.DirEntry) error { n++; return nil })
	return n, err
}

// CleanTemps deletes the temp files a crash left behind and returns how
// many it deleted. It must not run while files are being applied.
func (r *Root) CleanTemps() (int, error) {
	n := 0
	err := r.walk(func(path string, d fs.DirEntry) error {
		if !IsTemp(d.Name()) {
			return nil
		}
		if err := r.root.RemoveAll(path); err != nil {
			return wrap("remove", path, err)
		}
		n++
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	return n, err
}

func (r *Root) walk(fn func(string, fs.DirEntry) error) error {
	err := r.walkDir("", fn)
	if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func (r *Root) walkDir(dir string, fn func(string, fs.DirEntry) error) error {
	entries, err := r.readDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		p := join(dir, d.Name())
		err := fn(p, d)
		if d.IsDir() && err == nil {
			err = r.walkDir(p, fn)
		}
		if d.IsDir() && errors.Is(err, fs.SkipDir) {
			err = nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readDir lists a directory sorted by name. The entries' types come from
// the directory itself, so symlinks are reported as symlinks.
func (r *Root) readDir(dir string) ([]fs.DirEntry, error) {
	f, err := r.openDir(dir)
	if dir != "" && vanished(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, wrap("read dir", dir, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// vanished reports errors meaning a directory was removed or replaced
// since its parent was read.
func vanished(err error) bool {
	return isNotExist(err) || errors.Is(err, ErrNotDir) || errors.Is(err, syscall.ENOTDIR)
}

// RemoveAllBut removes path and everything beneath it except what keep
// says to keep (a kept directory is not walked) and the directories on
// the way to something kept. It returns how many entries it removed, and
// whether it kept anything. Like RemoveAll, a missing path or one whose
// parents are not all real directories is no error.
func (r *Root) RemoveAllBut(path string, keep func(path string, isDir bool) bool) (removed int, kept bool, err error) {
	if err := check("remove", path); err != nil {
		return 0, false, err
	}
	ok, err := r.physicalParents(path)
	if !ok || err != nil {
		return 0, false, err
	}
	fi, err := r.Lstat(path)
	if err != nil {
		return 0, false, nil
	}
	if !fi.IsDir() {
		return 1, false, wrap("remove", path, r.root.Remove(path))
	}
	var gone []string // in walk order: a directory before what it holds
	err = r.walkDir(path, func(p string, d fs.DirEntry) error {
		if keep(p, d.IsDir()) {
			kept = true
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		gone = append(gone, p)
		return nil
	})
	if err != nil {
		return 0, kept, err
	}
	gone = append([]string{path}, gone...)
	for i := len(gone) - 1; i >= 0; i-- {
		err := r.root.Remove(gone[i])
		switch {
		case err == nil:
			removed++
		case kept && errors.Is(err, syscall.ENOTEMPTY), kept && errors.Is(err, syscall.EEXIST):
			// a directory on the way to something kept
		default:
			return removed, kept, wrap("remove", gone[i], err)
		}
	}
	return removed, kept, nil
}
