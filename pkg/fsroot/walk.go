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
