package treegen

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

// entry is what Compare knows about one path.
type entry struct {
	kind   string // file, dir, symlink, or another type's name
	perm   uint32 // 07777
	size   int64  // files only
	mtime  int64  // unix ns
	target string // symlinks only
}

type diff struct{ path, msg string }

// Compare reports every difference between the trees at a and b: paths
// present on one side only, and for paths on both sides the type, size,
// content (SHA-256), permission bits including setuid, setgid and sticky,
// mtime to the nanosecond (files, directories and symlinks) and symlink
// target. Symlinks are never followed. The roots' own metadata and
// wire.TempPrefix entries are ignored. Differences are sorted by path, one
// human-readable line each; none means the trees are equal.
func Compare(a, b string) ([]string, error) { return compare(a, b, true) }

// CompareMeta is Compare without reading file contents: a cheap first
// check for polling loops.
func CompareMeta(a, b string) ([]string, error) { return compare(a, b, false) }

func compare(a, b string, content bool) ([]string, error) {
	ta, err := walk(a)
	if err != nil {
		return nil, err
	}
	tb, err := walk(b)
	if err != nil {
		return nil, err
	}
	var diffs []diff
	var same []string // files whose contents need comparing
	for _, p := range unionKeys(ta, tb) {
		ea, inA := ta[p]
		eb, inB := tb[p]
		switch {
		case !inB:
			diffs = append(diffs, diff{p, fmt.Sprintf("only in a: %q (%s)", p, ea.kind)})
		case !inA:
			diffs = append(diffs, diff{p, fmt.Sprintf("only in b: %q (%s)", p, eb.kind)})
		default:
			d := entryDiffs(p, ea, eb)
			diffs = append(diffs, d...)
			if content && ea.kind == "file" && eb.kind == "file" && ea.size == eb.size && ea.size > 0 {
				same = append(same, p)
			}
		}
	}
	diffs = append(diffs, contentDiffs(a, b, same)...)
	slices.SortStableFunc(diffs, func(x, y diff) int { return cmp.Compare(x.path, y.path) })
	out := make([]string, len(diffs))
	for i, d := range diffs {
		out[i] = d.msg
	}
	return out, nil
}

func unionKeys(a, b map[string]entry) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func entryDiffs(p string, a, b entry) []diff {
	if a.kind != b.kind {
		return []diff{{p, fmt.Sprintf("%q: type %s in a, %s in b", p, a.kind, b.kind)}}
	}
	var out []diff
	add := func(format string, args ...any) {
		out = append(out, diff{p, fmt.Sprintf("%q: ", p) + fmt.Sprintf(format, args...)})
	}
	if a.size != b.size {
		add("size %d in a, %d in b", a.size, b.size)
	}
	if a.perm != b.perm && a.kind != "symlink" {
		add("mode %04o in a, %04o in b", a.perm, b.perm)
	}
	if a.mtime != b.mtime {
		add("%s mtime %s in a, %s in b", a.kind, fmtTime(a.mtime), fmtTime(b.mtime))
	}
	if a.target != b.target {
		add("symlink target %q in a, %q in b", a.target, b.target)
	}
	return out
}

func fmtTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// walk lists the tree under root by slash-separated relative path. An
// entry that vanishes during the walk (a replica renaming a temp file into
// place) is left out rather than failing the comparison.
func walk(root string) (map[string]entry, error) {
	if _, err := os.Lstat(root); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && full != root {
				return nil
			}
			return err
		}
		if full == root {
			return nil
		}
		if strings.HasPrefix(d.Name(), wire.TempPrefix) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		e, err := statEntry(full)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, full)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compare: walk %s: %w", root, err)
	}
	return out, nil
}

func statEntry(full string) (entry, error) {
	fi, err := os.Lstat(full)
	if err != nil {
		return entry{}, err
	}
	e := entry{kind: kindOf(fi.Mode()), perm: PermBits(fi.Mode()), mtime: fi.ModTime().UnixNano()}
	switch e.kind {
	case "file":
		e.size = fi.Size()
	case "symlink":
		if e.target, err = os.Readlink(full); err != nil {
			return entry{}, err
		}
	}
	return e, nil
}

func kindOf(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "file"
	case t&fs.ModeDir != 0:
		return "dir"
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t&fs.ModeNamedPipe != 0:
		return "fifo"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeDevice != 0:
		return "device"
	default:
		return "other(" + t.String() + ")"
	}
}

// contentDiffs hashes each path on both sides, in parallel.
func contentDiffs(a, b string, paths []string) []diff {
	var (
		mu  sync.Mutex
		out []diff
		wg  sync.WaitGroup
	)
	work := make(chan string)
	for range max(runtime.GOMAXPROCS(0), 2) {
		wg.Go(func() {
			for p := range work {
				if d, ok := contentDiff(a, b, p); !ok {
					mu.Lock()
					out = append(out, d)
					mu.Unlock()
				}
			}
		})
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
	return out
}

func contentDiff(a, b, p string) (diff, bool) {
	ha, err := hashFile(filepath.Join(a, filepath.FromSlash(p)))
	if err != nil {
		return diff{p, fmt.Sprintf("%q: read a: %v", p, err)}, false
	}
	hb, err := hashFile(filepath.Join(b, filepath.FromSlash(p)))
	if err != nil {
		return diff{p, fmt.Sprintf("%q: read b: %v", p, err)}, false
	}
	if ha != hb {
		return diff{p, fmt.Sprintf("%q: content sha256 %.16s… in a, %.16s… in b", p, ha, hb)}, false
	}
	return diff{}, true
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 256<<10)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
