//go:build !linux && !freebsd

package fsmeta

import "errors"

// ListXattrs returns no names: extended attributes are not supported on
// this platform.
func ListXattrs(path string) ([]string, error) { return nil, nil }

// getXattr is not supported on this platform.
func getXattr(path, name string) ([]byte, error) { return nil, errors.ErrUnsupported }

// setXattr is not supported on this platform.
func setXattr(path, name string, value []byte) error { return errors.ErrUnsupported }

// removeXattr is not supported on this platform.
func removeXattr(path, name string) error { return errors.ErrUnsupported }

// Applicable reports false: no attribute can be set on this platform.
func Applicable(name string) bool { return false }
