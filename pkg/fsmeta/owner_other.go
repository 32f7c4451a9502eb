//go:build !unix

package fsmeta

import (
	"errors"
	"io/fs"
)

// OwnerOf returns ok false: this platform has no Unix owners.
func OwnerOf(fi fs.FileInfo) (o Owner, ok bool) { return Owner{}, false }

// Chown is not supported on this platform.
func Chown(path string, uid, gid uint32) error {
	return &fs.PathError{Op: "chown", Path: path, Err: errors.ErrUnsupported}
}

// ApplyOwner is not supported on this platform.
func ApplyOwner(path string, o Owner) error { return Chown(path, o.UID, o.GID) }
