//go:build unix

package fsmeta

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// OwnerOf returns the owner recorded in fi (from os.Lstat or a directory
// walk), with names; ok is false when fi carries no system stat.
func OwnerOf(fi fs.FileInfo) (o Owner, ok bool) {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return OwnerOfIDs(st.Uid, st.Gid), true
	case *unix.Stat_t:
		return OwnerOfIDs(st.Uid, st.Gid), true
	}
	return Owner{}, false
}

// Chown sets the owner of path to uid:gid without following a symbolic
// link. Lacking the privilege, it returns an error wrapping
// ErrNotPermitted.
func Chown(path string, uid, gid uint32) error {
	err := unix.Fchownat(unix.AT_FDCWD, path, int(uid), int(gid), unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("chown %s: %w", path, ErrNotPermitted)
	}
	if err != nil {
		return &fs.PathError{Op: "chown", Path: path, Err: err}
	}
	return nil
}

// ApplyOwner sets the owner of path to o, mapped by ResolveOwner.
func ApplyOwner(path string, o Owner) error {
	uid, gid := ResolveOwner(o)
	return Chown(path, uid, gid)
}
