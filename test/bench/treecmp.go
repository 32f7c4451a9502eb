package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/jetsync/jetsync/pkg/wire"
)

// wire.TempPrefix names jetsync's in-flight temp files. They may appear
// in DST while a copy is under way; waitEqual ignores them, but the final
// verification after a run does not.

// entry is what the comparison looks at for one path. The comparator uses
// the standard library only, so it checks jetsync rather than trusting it.
type entry struct {
	kind   byte        // 'f' regular file, 'd' directory, 'l' symlink, 'o' other
	mode   fs.FileMode // permission, setuid, setgid and sticky bits
	size   int64       // regular files
	mtime  int64       // UnixNano; compared for regular files only
	target string      // symlinks
	sum    [32]byte    // SHA-256 of a regular file's content
}

// tree maps slash-separated paths relative to the root (the root itself
// excluded) to their entries.
type tree map[string]entry

const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func kindOf(m fs.FileMode) byte {
	switch {
	case m.IsRegular():
		return 'f'
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	}
	return 'o'
}

// entryOf describes full from its Lstat info; content is hashed later.
func entryOf(full string, fi fs.FileInfo) (entry, error) {
	e := entry{kind: kindOf(fi.Mode()), mode: fi.Mode() & modeBits}
	switch e.kind {
	case 'f':
		e.size, e.mtime = fi.Size(), fi.ModTime().UnixNano()
	case 'l':
		t, err := os.Readlink(full)
		if err != nil {
			return e, fmt.Errorf("read link: %w", err)
		}
		e.target, e.mode = t, 0 // link permission bits mean nothing on Linux
	}
	return e, nil
}

// snapOptions: skipTemp leaves out jetsync's temp files.
type snapOptions struct {
	skipTemp bool
	cache    *hashCache // may be nil
}

// snapshot walks root and hashes every regular file.
func snapshot(root string, opt snapOptions) (tree, error) {
	t := tree{}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		if opt.skipTemp && strings.HasPrefix(d.Name(), wire.TempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel := relSlash(root, p)
		e, err := entryOf(p, fi)
		if err != nil {
			return err
		}
		t[rel] = e
		if e.kind == 'f' {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	return t, hashAll(root, t, files, opt.cache)
}

func relSlash(root, p string) string {
	rel, _ := filepath.Rel(root, p)
	return filepath.ToSlash(rel)
}

// hashAll fills in the content hashes of files, on every CPU.
func hashAll(root string, t tree, files []string, cache *hashCache) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	work := make(chan string)
	for range runtime.NumCPU() {
		wg.Go(func() {
			for rel := range work {
				sum, err := cache.sum(filepath.Join(root, filepath.FromSlash(rel)))
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				e := t[rel]
				e.sum = sum
				t[rel] = e
				mu.Unlock()
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	return first
}

// hashCache remembers file hashes by inode, size and mtime, so polling a
// tree that is being filled does not rehash what has not changed. A nil
// cache hashes every time.
type hashCache struct {
	mu sync.Mutex
	m  map[string]cachedSum
}

type cachedSum struct {
	ino, size uint64
	mtime     int64
	sum       [32]byte
}

func newHashCache() *hashCache { return &hashCache{m: map[string]cachedSum{}} }

func (c *hashCache) sum(p string) ([32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, fmt.Errorf("hash: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return [32]byte{}, fmt.Errorf("hash: %w", err)
	}
	key := cachedSum{size: uint64(fi.Size()), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.ino = uint64(st.Ino)
	}
	if c != nil {
		c.mu.Lock()
		got, ok := c.m[p]
		c.mu.Unlock()
		if ok && got.ino == key.ino && got.size == key.size && got.mtime == key.mtime {
			return got.sum, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, fmt.Errorf("hash %s: %w", p, err)
	}
	h.Sum(key.sum[:0])
	if c != nil {
		c.mu.Lock()
		c.m[p] = key
		c.mu.Unlock()
	}
	return key.sum, nil
}

// diffTrees lists how got differs from want, one line per path, sorted.
func diffTrees(want, got tree) []string {
	var out []string
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			out = append(out, "missing "+p)
			continue
		}
		if d := diffEntry(w, g); d != "" {
			out = append(out, d+" "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			out = append(out, "extra "+p)
		}
	}
	slices.Sort(out)
	return out
}

// diffEntry names the first difference between two entries, or "".
func diffEntry(w, g entry) string {
	switch {
	case w.kind != g.kind:
		return fmt.Sprintf("type %c!=%c", w.kind, g.kind)
	case w.mode != g.mode:
		return fmt.Sprintf("mode %v!=%v", w.mode, g.mode)
	case w.size != g.size:
		return fmt.Sprintf("size %d!=%d", w.size, g.size)
	case w.kind == 'f' && w.mtime != g.mtime:
		return fmt.Sprintf("mtime %d!=%d", w.mtime, g.mtime)
	case w.target != g.target:
		return fmt.Sprintf("target %q!=%q", w.target, g.target)
	case w.sum != g.sum:
		return "content"
	}
	return ""
}

// compareDirs hashes both trees and returns their differences; jetsync
// temp files count as differences.
func compareDirs(src, dst string) ([]string, error) {
	want, err := snapshot(src, snapOptions{})
	if err != nil {
		return nil, err
	}
	return compareWith(want, dst)
}

// compareWith compares dst with an already taken snapshot of the source.
func compareWith(want tree, dst string) ([]string, error) {
	got, err := snapshot(dst, snapOptions{})
	if err != nil {
		return nil, err
	}
	return diffTrees(want, got), nil
}

// diffError summarises differences for an error message.
func diffError(what string, diffs []string) error {
	const show = 15
	n, more := len(diffs), ""
	if len(diffs) > show {
		more = fmt.Sprintf("\n  ... and %d more", len(diffs)-show)
		diffs = diffs[:show]
	}
	return fmt.Errorf("%s: DST differs from SRC in %d ways:\n  %s%s", what, n, strings.Join(diffs, "\n  "), more)
}

// treeBytes is the total size of the regular files of t.
func treeBytes(t tree) int64 {
	var n int64
	for _, e := range t {
		n += e.size
	}
	return n
}
