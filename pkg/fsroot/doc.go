// Package fsroot is the confined filesystem of a replica: every operation
// goes through an os.Root, so nothing a source sends can make the replica
// read, write or delete outside its folder root.
//
// Paths are the relative slash paths of package wire and are checked with
// wire.ValidPath before any system call. Mutating operations first make
// every ancestor of their path a real directory (EnsureParents), replacing
// files and symlinks found there, so a symlinked parent can never redirect
// a write, not even to another place inside the root.
//
// Content becomes visible only whole: files are written to a temp file in
// the destination directory, synced, renamed over the target, and the
// directory is synced, so a reader sees the old or the new version.
//
// The package is Unix only: it sets symlink times through utimensat.
package fsroot
