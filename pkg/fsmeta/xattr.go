package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
)

// ReadXattrs returns every extended attribute of path that the process
// may read, without following a symbolic link. It costs one system call
// when path has none; a file system without extended attributes yields
// the empty set.
func ReadXattrs(path string) (Xattrs, error) {
	names, err := ListXattrs(path)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	x := make(Xattrs, len(names))
	for _, n := range names {
		v, err := getXattr(path, n)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read xattr %s of %s: %w", n, path, err)
		}
		x[n] = v
	}
	return x, nil
}

// SetXattrs makes the extended attributes of path exactly want, without
// following a symbolic link: it removes the ones not in want and sets the
// ones that differ. Names this process cannot apply here (another
// platform's namespace, or a privileged one without the privilege) are
// left alone and returned in skipped, for the caller to count. Attributes
// of path in such namespaces are not removed either.
func SetXattrs(path string, want Xattrs) (skipped []string, err error) {
	have, err := ReadXattrs(path)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, n := range have.Names() {
		if _, ok := want[n]; ok || !Applicable(n) {
			continue
		}
		if err := removeXattr(path, n); err != nil {
			errs = append(errs, fmt.Errorf("remove xattr %s of %s: %w", n, path, err))
		}
	}
	for _, n := range want.Names() {
		if !Applicable(n) {
			skipped = append(skipped, n)
			continue
		}
		if v, ok := have[n]; ok && bytes.Equal(v, want[n]) {
			continue
		}
		if err := setXattr(path, n, want[n]); err != nil {
			errs = append(errs, fmt.Errorf("set xattr %s of %s: %w", n, path, err))
		}
	}
	return skipped, errors.Join(errs...)
}

// errSkip marks an attribute gone or unreadable between list and get.
var errSkip = errors.New("skip attribute")
