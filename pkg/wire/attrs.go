package wire

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/jetsync/jetsync/pkg/fsmeta"
)

// Special file types (record version 4). A replica creates them only
// when it may (as root); sockets are never replicated.
const (
	Fifo     Type = "fifo"
	CharDev  Type = "chardev"
	BlockDev Type = "blockdev"
)

// Bounds of the attributes a version 4 record carries.
const (
	// MaxRecordAttrs bounds a record's extended attributes and ACL
	// together, in their binary forms, so a record stays far below
	// MaxRecordLen once base64 encoded. A file whose attributes are
	// larger is published without them, and the source says so.
	MaxRecordAttrs = 128 << 10
	// MaxExtents bounds the data ranges of a sparse file's record; a file
	// in more pieces travels dense.
	MaxExtents = 1024
	// MaxLinkLen bounds a hard-link group's name.
	MaxLinkLen = 64
	// MaxOwnerName bounds a user or group name.
	MaxOwnerName = 256
)

// RootPath is the path of the folder root's own record (version 4): a
// directory record that carries the root's mode, mtime, owner and
// attributes. No other record may have an empty path.
const RootPath = ""

// Owner is a path's owner: numbers and the names they had at the source.
type Owner = fsmeta.Owner

// Extent is a range of a sparse file that holds data.
type Extent = fsmeta.Range

// Attrs is what a version 4 record says beyond type, mode, mtime and
// content. A record of an older version says nothing of any of it (a
// replica then leaves the path's own alone); in a version 4 record an
// empty field means the path has none.
type Attrs struct {
	// Owner is nil only where the source's platform has no owners.
	Owner *Owner
	// Xattrs are the extended attributes in fsmeta.EncodeXattrs form,
	// POSIX ACLs included as Linux keeps them (system.posix_acl_*).
	Xattrs []byte
	// ACL is an NFSv4 ACL in fsmeta.ACL.Encode form, tagged with the
	// platform it was read on; nil when the path has none beyond its mode.
	ACL []byte
	// Link names the hard-link group of a file that has several names at
	// the source: every record with the same Link is the same file there.
	Link string
	// Extents, when set, are the data ranges of a sparse file, in order;
	// everything else reads as zeros. The record's content (chunks or
	// inline data) is then the concatenated data of the extents only,
	// while Size and Hash still describe the whole file.
	Extents []Extent
	// Rdev is the device number of a CharDev or BlockDev.
	Rdev uint64
	// Excluded marks a tombstone sent because the path became excluded at
	// the source: replicas forget the path but leave it on disk.
	Excluded bool
}

type ownerJSON struct {
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// attrsJSON holds the version 4 fields of recordJSON.
type attrsJSON struct {
	Owner    *ownerJSON  `json:"owner,omitempty"`
	Xattrs   []byte      `json:"xattrs,omitempty"`
	ACL      []byte      `json:"acl,omitempty"`
	Link     string      `json:"link,omitempty"`
	Extents  *[][2]int64 `json:"extents,omitempty"` // empty: all holes
	Rdev     uint64      `json:"rdev,omitempty"`
	Excluded bool        `json:"excluded,omitempty"`
}

func (a *Attrs) toJSON() attrsJSON {
	j := attrsJSON{Xattrs: a.Xattrs, ACL: a.ACL, Link: a.Link, Rdev: a.Rdev, Excluded: a.Excluded}
	if o := a.Owner; o != nil {
		j.Owner = &ownerJSON{UID: o.UID, GID: o.GID, User: o.User, Group: o.Group}
	}
	if a.Extents != nil {
		ext := make([][2]int64, len(a.Extents))
		for i, e := range a.Extents {
			ext[i] = [2]int64{e.Off, e.Len}
		}
		j.Extents = &ext
	}
	return j
}

func (j *attrsJSON) attrs() Attrs {
	a := Attrs{Xattrs: j.Xattrs, ACL: j.ACL, Link: j.Link, Rdev: j.Rdev, Excluded: j.Excluded}
	if o := j.Owner; o != nil {
		a.Owner = &Owner{UID: o.UID, GID: o.GID, User: o.User, Group: o.Group}
	}
	if j.Extents != nil {
		a.Extents = make([]Extent, len(*j.Extents))
		for i, e := range *j.Extents {
			a.Extents[i] = Extent{Off: e[0], Len: e[1]}
		}
	}
	return a
}

// empty reports whether a says nothing (what an older record decodes to).
func (j *attrsJSON) empty() bool {
	return j.Owner == nil && j.Xattrs == nil && j.ACL == nil && j.Link == "" && j.Extents == nil &&
		j.Rdev == 0 && !j.Excluded
}

// HasAttrs reports whether r speaks of owners, extended attributes and
// ACLs (version 4, or built here): an older record does not, and a
// replica leaves the path's own alone.
func (r *Record) HasAttrs() bool { return r.V == 0 || r.V >= 4 }

// Special reports whether t is a FIFO or a device node.
func (t Type) Special() bool { return t == Fifo || t == CharDev || t == BlockDev }

// DataLen is the number of content bytes r's chunks or inline data hold:
// Size, or for a sparse file the bytes of its extents.
func (r *Record) DataLen() int64 {
	if r.Extents == nil {
		return r.Size
	}
	var n int64
	for _, e := range r.Extents {
		n += e.Len
	}
	return n
}

// validateAttrs checks the version 4 fields against r's type and the
// bounds above.
func (r *Record) validateAttrs() error {
	if o := r.Owner; o != nil {
		if err := checkOwnerName(o.User); err != nil {
			return err
		}
		if err := checkOwnerName(o.Group); err != nil {
			return err
		}
	}
	if len(r.Xattrs)+len(r.ACL) > MaxRecordAttrs {
		return fmt.Errorf("%w: %d bytes of attributes", ErrMalformed, len(r.Xattrs)+len(r.ACL))
	}
	if r.Xattrs != nil {
		x, err := fsmeta.DecodeXattrs(r.Xattrs)
		if err != nil || len(x) == 0 {
			return fmt.Errorf("%w: extended attributes: %v", ErrMalformed, err)
		}
	}
	if r.ACL != nil {
		if _, err := fsmeta.DecodeACL(r.ACL); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	switch {
	case r.Type == Deleted && (r.Owner != nil || r.Xattrs != nil || r.ACL != nil):
		return fmt.Errorf("%w: tombstone with attributes", ErrMalformed)
	case r.Excluded && r.Type != Deleted:
		return fmt.Errorf("%w: %s record marked excluded", ErrMalformed, r.Type)
	case r.Link != "" && (r.Type != File || len(r.Link) > MaxLinkLen || strings.IndexByte(r.Link, 0) >= 0):
		return fmt.Errorf("%w: link group %q on a %s", ErrMalformed, r.Link, r.Type)
	case r.Rdev != 0 && r.Type != CharDev && r.Type != BlockDev:
		return fmt.Errorf("%w: device number on a %s", ErrMalformed, r.Type)
	case r.Extents != nil && r.Type != File:
		return fmt.Errorf("%w: extents on a %s", ErrMalformed, r.Type)
	}
	return r.checkExtents()
}

func checkOwnerName(n string) error {
	if len(n) > MaxOwnerName || strings.ContainsAny(n, "\x00\n:") {
		return fmt.Errorf("%w: owner name %q", ErrMalformed, n)
	}
	return nil
}

// checkExtents checks that a sparse file's extents are in order, do not
// touch or overlap, are not empty and lie within its size.
func (r *Record) checkExtents() error {
	if r.Extents == nil {
		return nil
	}
	if len(r.Extents) > MaxExtents {
		return fmt.Errorf("%w: %d extents", ErrMalformed, len(r.Extents))
	}
	var end int64
	for i, e := range r.Extents {
		if e.Len <= 0 || e.Off < end || (i > 0 && e.Off == end) || e.Off > r.Size-e.Len {
			return fmt.Errorf("%w: extent %d (%d+%d) of a file of %d bytes", ErrMalformed, i, e.Off, e.Len, r.Size)
		}
		end = e.Off + e.Len
	}
	return nil
}

// AttrsDigest sums what r says of owner, extended attributes, ACL,
// hard-link group and device number, so a replica can tell with one
// comparison whether a path's attributes are still those it applied. A
// record that says nothing of them (older than version 4) digests to the
// zero hash.
func (r *Record) AttrsDigest() Hash {
	if !r.HasAttrs() {
		return Hash{}
	}
	b := make([]byte, 0, 64+len(r.Xattrs)+len(r.ACL))
	if o := r.Owner; o != nil {
		b = append(b, 'o')
		b = binary.AppendUvarint(b, uint64(o.UID))
		b = binary.AppendUvarint(b, uint64(o.GID))
		b = appendString(b, o.User)
		b = appendString(b, o.Group)
	}
	b = appendString(append(b, 'x'), string(r.Xattrs))
	b = appendString(append(b, 'a'), string(r.ACL))
	b = appendString(append(b, 'l'), r.Link)
	b = binary.AppendUvarint(append(b, 'd'), r.Rdev)
	return Sum(b)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
