package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// attrsOf reads what a record says of path beyond type, mode, mtime and
// content: its owner (from fi, its lstat), extended attributes (one
// listxattr when it has none) and NFSv4 ACL (FreeBSD). An error means the
// attributes could not be read; the path is then published later, never
// with its attributes missing, which a replica would take for "none".
func (s *Source) attrsOf(path string, fi fs.FileInfo) (wire.Attrs, error) {
	var a wire.Attrs
	if o, ok := fsmeta.OwnerOf(fi); ok {
		a.Owner = &o
	}
	abs := s.abs(path)
	x, err := fsmeta.ReadXattrs(abs)
	if err != nil {
		return a, err
	}
	if a.Xattrs, err = fsmeta.EncodeXattrs(x); err != nil {
		s.attrsTooLarge(path, err)
		a.Xattrs = nil
	}
	acl, err := fsmeta.ReadNFS4ACL(abs)
	switch {
	case errors.Is(err, fsmeta.ErrACLNotSupported):
	case err != nil:
		return a, err
	default:
		if a.ACL, err = acl.Encode(); err != nil {
			return a, err
		}
	}
	if n := len(a.Xattrs) + len(a.ACL); n > wire.MaxRecordAttrs {
		s.attrsTooLarge(path, fmt.Errorf("%d bytes of extended attributes and ACL, more than a record's %d", n, wire.MaxRecordAttrs))
		a.Xattrs, a.ACL = nil, nil
	}
	return a, nil
}

// attrsTooLarge reports attributes no record can carry: the path is
// published without them (the replica then has none), and says so.
func (s *Source) attrsTooLarge(path string, err error) {
	s.log.Error("extended attributes too large to replicate; publishing the path without them", "path", path, "err", err)
	s.countError("attrs", fmt.Sprintf("%s: %v", path, err))
}

// fileAttrs reads the attributes of the file read as fr, checking that
// path still names that file.
func (s *Source) fileAttrs(path string, ino uint64) (wire.Attrs, error) {
	fi, err := os.Lstat(s.abs(path))
	if err != nil {
		return wire.Attrs{}, goneOr(err)
	}
	if st := statOf(fi); st.Type != wire.File || (ino != 0 && st.Ino != ino) {
		return wire.Attrs{}, errGone
	}
	a, err := s.attrsOf(path, fi)
	if err != nil {
		return a, goneOr(err)
	}
	a.Link = linkID(fi)
	return a, nil
}
