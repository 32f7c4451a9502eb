package fsroot

import (
	"errors"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// EnsureParentsLstat is EnsureParents followed by an lstat of path, in one
// walk of its parents. err reports a failure to make the parents; fi is
// nil when nothing could be lstat'ed at path (absent, or unreadable: what
// writes there next reports why). fi.Sys() is a *unix.Stat_t.
func (r *Root) EnsureParentsLstat(path string) (fi fs.FileInfo, err error) {
	t, fi, err := r.OpenTarget(path)
	if err != nil {
		return nil, err
	}
	t.Close()
	return fi, nil
}

var errTargetUsed = errors.New("target already used or closed")

// A Target is a path whose parents were made real directories and are
// held open, so that creating its temp file costs no second walk.
type Target struct {
	r    *Root
	p    *parent // nil once handed to a Temp, or closed
	path string
}

// OpenTarget is EnsureParentsLstat keeping the parent open for
// Target.CreateTemp. The caller closes the Target.
func (r *Root) OpenTarget(path string) (*Target, fs.FileInfo, error) {
	p, err := r.openParent("ensure parents", path, true)
	if err != nil {
		return nil, nil, err
	}
	t := &Target{r: r, p: p, path: path}
	si := &statInfo{name: p.name}
	for {
		err = unix.Fstatat(p.fd, p.name, &si.st, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return t, nil, nil
	}
	return t, si, nil
}

// CreateTemp is Root.CreateTemp for the target, through its open parent,
// which the Temp takes over: it can be called once.
func (t *Target) CreateTemp() (*Temp, error) {
	if t.p == nil {
		return nil, &PathError{Op: "create temp for", Path: t.path, Err: errTargetUsed}
	}
	p := t.p
	t.p = nil
	return t.r.createTemp(p, t.path)
}

// Close releases the parent unless a Temp took it over.
func (t *Target) Close() {
	if t.p != nil {
		t.p.close()
		t.p = nil
	}
}

// statInfo is an fs.FileInfo from fstatat.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) Mode() fs.FileMode  { return fileMode(uint32(s.st.Mode)) }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }

// fileMode converts st_mode as package os does.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
