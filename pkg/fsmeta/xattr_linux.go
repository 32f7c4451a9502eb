package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// listBufSize covers the names of nearly every file in one system call.
const listBufSize = 4096

// ListXattrs returns the names of path's extended attributes, without
// following a symbolic link (llistxattr). The kernel lists trusted.* only
// to a privileged process.
func ListXattrs(path string) ([]string, error) {
	buf := make([]byte, listBufSize)
	for {
		n, err := unix.Llistxattr(path, buf)
		switch {
		case err == nil:
			return splitNames(buf[:n]), nil
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case !errors.Is(err, unix.ERANGE):
			return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
		}
		if n, err = unix.Llistxattr(path, nil); err != nil {
			return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
		}
		buf = make([]byte, n+listBufSize)
	}
}

// splitNames splits a NUL-terminated list of names.
func splitNames(b []byte) []string {
	var names []string
	for _, n := range strings.Split(string(b), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// getXattr reads one attribute; errSkip when it vanished or may not be
// read.
func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return nil, errSkip
		case !errors.Is(err, unix.ERANGE):
			return nil, err
		}
		if n, err = unix.Lgetxattr(path, name, nil); err != nil {
			return nil, err
		}
		if n > MaxXattrValue {
			return nil, fmt.Errorf("%d bytes: %w", n, ErrXattrsTooLarge)
		}
		buf = make([]byte, n)
	}
}

// setXattr sets one attribute.
func setXattr(path, name string, value []byte) error {
	return unix.Lsetxattr(path, name, value, 0)
}

// removeXattr removes one attribute; one already gone is no error.
func removeXattr(path, name string) error {
	err := unix.Lremovexattr(path, name)
	if errors.Is(err, unix.ENODATA) {
		return nil
	}
	return err
}

// Applicable reports whether this process can set attribute name here:
// user.* and the POSIX ACLs always, trusted.* and security.* as root.
// Other system.* names come from FreeBSD's system namespace, which Linux
// does not have.
func Applicable(name string) bool {
	switch {
	case strings.HasPrefix(name, "user."):
		return true
	case name == XattrACLAccess, name == XattrACLDefault:
		return true
	case strings.HasPrefix(name, "trusted."), strings.HasPrefix(name, "security."):
		return os.Geteuid() == 0
	}
	return false
}
