package watch

import (
	"fmt"
	"os"
	"path/filepath"
)

// ResolveRoot returns the directory that root names as an absolute path
// with every symlink in it resolved. The source, its watcher and verify
// resolve a tree's root with it once, when they start, and work on that
// directory from then on: inside a tree no symlink is ever followed, so a
// root given through a symlink would otherwise be refused by some of them
// and taken by others. A link repointed later takes effect at the next
// start.
func ResolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolve root %s: %w", root, err)
	}
	dir, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("resolve root: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("check root: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("check root %s: not a directory", root)
	}
	return dir, nil
}
