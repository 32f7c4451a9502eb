package fsroot

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// ErrNotRegular marks a path Open refuses because it is not a regular file
// (a symlink, directory, device or FIFO).
var ErrNotRegular = errors.New("not a regular file")

// ErrNotDir marks a directory operation on something that is not one.
var ErrNotDir = errors.New("not a directory")

// PathError records a failed operation on a path relative to the root.
type PathError struct {
	Op   string
	Path string
	Err  error
}

func (e *PathError) Error() string {
	return e.Op + " " + displayPath(e.Path) + ": " + e.Err.Error()
}

func (e *PathError) Unwrap() error { return e.Err }

// displayPath quotes paths that could garble a log line or terminal; names
// come from the network and may hold any byte but NUL and slash.
func displayPath(p string) string {
	if p == "" {
		return "."
	}
	if !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	for _, c := range p {
		if !unicode.IsGraphic(c) || c == ' ' || c == '"' {
			return strconv.Quote(p)
		}
	}
	return p
}

// wrap attaches op and path to err. The os package's own path errors are
// unwrapped first: they name the path again, in the root's terms.
func wrap(op, path string, err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *PathError:
		return e
	case *os.PathError:
		err = e.Err
	case *os.LinkError:
		err = e.Err
	case *os.SyscallError:
		err = e.Err
	}
	return &PathError{Op: op, Path: path, Err: err}
}

// IsNoSpace reports whether err means the filesystem or quota is full.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// IsPermission reports whether err means access was denied.
func IsPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
