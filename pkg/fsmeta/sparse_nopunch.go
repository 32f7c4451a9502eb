//go:build !linux

package fsmeta

import (
	"errors"
	"os"
)

// punchHole is not available here (FreeBSD's fspacectl has no wrapper in
// golang.org/x/sys): PunchOrSkip writes zeros instead.
func punchHole(f *os.File, r Range) error { return errors.ErrUnsupported }
