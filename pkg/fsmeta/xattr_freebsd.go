package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// listBufSize covers the names of nearly every file in one system call
// per namespace.
const listBufSize = 4096

// namespaces are FreeBSD's extattr namespaces, with the prefix their
// names carry here.
var namespaces = []struct {
	id     int
	prefix string
}{
	{unix.EXTATTR_NAMESPACE_USER, "user."},
	{unix.EXTATTR_NAMESPACE_SYSTEM, "system."},
}

// ListXattrs returns the names of path's extended attributes in the user
// and system namespaces, prefixed "user." and "system.", without following
// a symbolic link (extattr_list_link). The system namespace is skipped
// when the process may not read it.
func ListXattrs(path string) ([]string, error) {
	var names []string
	for _, ns := range namespaces {
		b, err := listNS(path, ns.id)
		if errors.Is(err, unix.EPERM) && ns.id != unix.EXTATTR_NAMESPACE_USER {
			continue
		}
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "extattr_list_link", Path: path, Err: err}
		}
		names = appendNames(names, ns.prefix, b)
	}
	return names, nil
}

// listNS returns the raw list of one namespace. A result shorter than the
// buffer is complete; a full one may be truncated, so ask the size.
func listNS(path string, ns int) ([]byte, error) {
	buf := make([]byte, listBufSize)
	for {
		n, err := unix.LlistxattrNS(path, ns, buf)
		if err != nil || n < len(buf) {
			return buf[:max(n, 0)], err
		}
		if n, err = unix.LlistxattrNS(path, ns, nil); err != nil {
			return nil, err
		}
		buf = make([]byte, n+1)
	}
}

// appendNames appends the names of an extattr list (each a length byte
// then the name, no terminator).
func appendNames(names []string, prefix string, b []byte) []string {
	for len(b) > 0 {
		n := int(b[0])
		if 1+n > len(b) {
			break
		}
		names = append(names, prefix+string(b[1:1+n]))
		b = b[1+n:]
	}
	return names
}

// getXattr reads one attribute; errSkip when it vanished or may not be
// read. A result shorter than the buffer is complete.
func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		switch {
		case errors.Is(err, unix.ENOATTR), errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return nil, errSkip
		case err != nil:
			return nil, err
		case n < len(buf):
			return buf[:n], nil
		}
		if n, err = unix.Lgetxattr(path, name, nil); err != nil {
			return nil, err
		}
		if n > MaxXattrValue {
			return nil, fmt.Errorf("%d bytes: %w", n, ErrXattrsTooLarge)
		}
		buf = make([]byte, n+1)
	}
}

// setXattr sets one attribute.
func setXattr(path, name string, value []byte) error {
	return unix.Lsetxattr(path, name, value, 0)
}

// removeXattr removes one attribute; one already gone is no error.
func removeXattr(path, name string) error {
	err := unix.Lremovexattr(path, name)
	if errors.Is(err, unix.ENOATTR) {
		return nil
	}
	return err
}

// Applicable reports whether this process can set attribute name here:
// user.* always, system.* as root. Linux's POSIX ACL attributes and its
// trusted.* and security.* namespaces have no FreeBSD equivalent.
func Applicable(name string) bool {
	switch {
	case strings.HasPrefix(name, "user."):
		return true
	case name == XattrACLAccess, name == XattrACLDefault:
		return false
	case strings.HasPrefix(name, "system."):
		return os.Geteuid() == 0
	}
	return false
}
