package wire

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// MaxPathLen bounds a relative path in bytes (Linux PATH_MAX).
	MaxPathLen = 4096
	// MaxNameLen bounds one path component in bytes (NAME_MAX).
	MaxNameLen = 255
	// MaxTargetLen bounds a symlink target in bytes.
	MaxTargetLen = 4096
)

// ErrBadPath marks a path a receiver must never act on.
var ErrBadPath = errors.New("bad path")

// ValidPath checks that p is a clean, relative, slash-separated path that
// stays inside the folder root by construction: no leading slash, no empty,
// "." or ".." components, no NUL, bounded lengths. Symlinked parents are not
// a property of the string; the replica's confined filesystem handles those.
func ValidPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrBadPath)
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: %d bytes long", ErrBadPath, len(p))
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: contains NUL", ErrBadPath)
	}
	if p[0] == '/' {
		return fmt.Errorf("%w: absolute", ErrBadPath)
	}
	for name := range strings.SplitSeq(p, "/") {
		switch {
		case name == "":
			return fmt.Errorf("%w: empty component in %q", ErrBadPath, p)
		case name == "." || name == "..":
			return fmt.Errorf("%w: %q component in %q", ErrBadPath, name, p)
		case len(name) > MaxNameLen:
			return fmt.Errorf("%w: component of %d bytes", ErrBadPath, len(name))
		}
	}
	return nil
}

// ValidTarget checks a symlink target. Targets may be absolute or climb with
// "..": the replica stores them as links and never follows them.
func ValidTarget(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("%w: empty symlink target", ErrBadPath)
	case len(t) > MaxTargetLen:
		return fmt.Errorf("%w: symlink target of %d bytes", ErrBadPath, len(t))
	case strings.IndexByte(t, 0) >= 0:
		return fmt.Errorf("%w: symlink target contains NUL", ErrBadPath)
	}
	return nil
}

// Parent returns the parent directory of a valid path, "" for top level.
func Parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// IsUnder reports whether p is dir itself or lies beneath it.
func IsUnder(p, dir string) bool {
	return p == dir || (len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir)
}

// TempPrefix starts the names of the temp files a replica assembles
// content in. A source never publishes such names (a tree may hold both a
// replica of one folder and the source of another), verify ignores them,
// and a replica removes leftovers at start.
const TempPrefix = ".jetsync.tmp."

// SortKey is the key under which the local stores keep a path: '/' becomes
// NUL, which sorts before any byte of a name, so the keys of a subtree are
// contiguous and in depth-first order. SortPath is its inverse.
func SortKey(path string) []byte { return []byte(strings.ReplaceAll(path, "/", "\x00")) }

// SortPath is the path of a SortKey.
func SortPath(key []byte) string { return strings.ReplaceAll(string(key), "\x00", "/") }
