package verify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Kinds of Diff for attributes.
const (
	KindOwner  = "owner"  // uid:gid, after mapping names as the replica does
	KindXattr  = "xattr"  // one extended attribute (POSIX ACLs among them)
	KindACL    = "acl"    // the NFSv4 ACL
	KindDevice = "device" // a device node's number
)

// Ignorable are the names --ignore takes: parts of what "equal" means
// that a replica may be unable to keep (not root, another platform).
var Ignorable = []string{"owners", "xattrs", "acls", "links", "sparse"}

// ignoreSet says which attribute comparisons to skip.
type ignoreSet struct{ owners, xattrs, acls, links, sparse bool }

// ParseIgnore checks names against Ignorable.
func ParseIgnore(names []string) error {
	_, err := parseIgnore(names)
	return err
}

func parseIgnore(names []string) (ignoreSet, error) {
	var s ignoreSet
	for _, n := range names {
		switch n {
		case "owners":
			s.owners = true
		case "xattrs":
			s.xattrs = true
		case "acls":
			s.acls = true
		case "links":
			s.links = true
		case "sparse":
			s.sparse = true
		default:
			return s, fmt.Errorf("cannot ignore %q: use %s", n, strings.Join(Ignorable, ", "))
		}
	}
	return s, nil
}

// wantAttrs is what a record says of owner, extended attributes, ACL and
// hard-link group; known is false for records older than version 4, which
// say nothing.
type wantAttrs struct {
	known  bool
	owner  *wire.Owner
	xattrs []byte // fsmeta.EncodeXattrs form
	acl    []byte // fsmeta.ACL.Encode form
	link   string // hard-link group
	rdev   uint64 // device number of a device node
}

func attrsOfRecord(r *wire.Record) wantAttrs {
	if !r.HasAttrs() {
		return wantAttrs{}
	}
	return wantAttrs{known: true, owner: r.Owner, xattrs: r.Xattrs, acl: r.ACL, link: r.Link, rdev: r.Rdev}
}

// append encodes a: a flag byte (bit 0 known, bit 1 owner), then the
// owner's numbers and names, the attributes and the ACL, each length
// prefixed.
func (a wantAttrs) append(b []byte) []byte {
	var flags byte
	if a.known {
		flags |= 1
	}
	if a.owner != nil {
		flags |= 2
	}
	b = append(b, flags)
	if a.owner != nil {
		b = binary.BigEndian.AppendUint32(b, a.owner.UID)
		b = binary.BigEndian.AppendUint32(b, a.owner.GID)
		b = appendBytes(b, a.owner.User)
		b = appendBytes(b, a.owner.Group)
	}
	b = appendBytes(b, string(a.xattrs))
	b = appendBytes(b, string(a.acl))
	b = appendBytes(b, a.link)
	return binary.AppendUvarint(b, a.rdev)
}

var errBadAttrs = errors.New("read verify index: bad attributes")

func (a *wantAttrs) decode(b []byte) error {
	if len(b) < 1 || b[0]&^3 != 0 || b[0] == 2 {
		return errBadAttrs
	}
	flags := b[0]
	b = b[1:]
	a.known = flags&1 != 0
	if flags&2 != 0 {
		if len(b) < 8 {
			return errBadAttrs
		}
		o := &wire.Owner{UID: binary.BigEndian.Uint32(b), GID: binary.BigEndian.Uint32(b[4:])}
		var ok1, ok2 bool
		o.User, b, ok1 = cutBytes(b[8:])
		o.Group, b, ok2 = cutBytes(b)
		if !ok1 || !ok2 {
			return errBadAttrs
		}
		a.owner = o
	}
	x, b, ok1 := cutBytes(b)
	acl, b, ok2 := cutBytes(b)
	link, b, ok3 := cutBytes(b)
	rdev, k := binary.Uvarint(b)
	if !ok1 || !ok2 || !ok3 || k <= 0 || k != len(binary.AppendUvarint(nil, rdev)) || len(b) != k ||
		(!a.known && (x != "" || acl != "" || link != "" || rdev != 0)) {
		return errBadAttrs
	}
	a.rdev = rdev
	a.link = link
	if x != "" {
		a.xattrs = []byte(x)
	}
	if acl != "" {
		a.acl = []byte(acl)
	}
	return nil
}

func appendBytes(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// cutBytes reads a minimal uvarint length and that many bytes.
func cutBytes(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != len(binary.AppendUvarint(nil, n)) || n > uint64(len(b)-k) {
		return "", b, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// compareAttrs adds the differences in owner, extended attributes and
// ACL between the local path (lstat'ed as fi) and w.
func (m *merger) compareAttrs(path, rel string, fi fs.FileInfo, w want) error {
	a := w.wantAttrs
	if !a.known {
		return nil
	}
	if w.Type == wire.CharDev || w.Type == wire.BlockDev {
		if got := fsstat.Rdev(fi); got != a.rdev {
			m.rep.add(Diff{Path: rel, Kind: KindDevice, Want: fmt.Sprintf("%#x", a.rdev), Got: fmt.Sprintf("%#x", got)})
		}
	}
	if a.owner != nil && !m.ignore.owners {
		if have, ok := fsmeta.OwnerOf(fi); ok {
			uid, gid := fsmeta.ResolveOwner(*a.owner)
			if have.UID != uid || have.GID != gid {
				m.rep.add(Diff{Path: rel, Kind: KindOwner, Want: fmt.Sprintf("%d:%d", uid, gid),
					Got: fmt.Sprintf("%d:%d", have.UID, have.GID)})
			}
		}
	}
	if !m.ignore.xattrs {
		if err := m.compareXattrs(path, rel, a); err != nil {
			return err
		}
	}
	if !m.ignore.acls {
		return m.compareACL(path, rel, a)
	}
	return nil
}

func (m *merger) compareXattrs(path, rel string, a wantAttrs) error {
	want, err := fsmeta.DecodeXattrs(a.xattrs)
	if err != nil {
		return fmt.Errorf("read verify index: attributes of %s: %w", rel, err)
	}
	have, err := fsmeta.ReadXattrs(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the walk reports it
	}
	if err != nil {
		return fmt.Errorf("read extended attributes of %s: %w", path, err)
	}
	names := want.Names()
	for _, n := range have.Names() {
		if _, ok := want[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if !fsmeta.Applicable(n) {
			continue // this process can neither set nor, reliably, read it
		}
		w, inWant := want[n]
		h, inHave := have[n]
		if inWant == inHave && string(w) == string(h) {
			continue
		}
		d := Diff{Path: rel, Kind: KindXattr, Want: n + " absent", Got: n + " absent"}
		if inWant {
			d.Want = n + "=" + xattrText(n, w)
		}
		if inHave {
			d.Got = n + "=" + xattrText(n, h)
		}
		if !m.rep.add(d) {
			return nil
		}
	}
	return nil
}

// xattrText shows a value: POSIX ACLs as getfacl's short form, text as
// it is (shortened), anything else by length.
func xattrText(name string, v []byte) string {
	if name == fsmeta.XattrACLAccess || name == fsmeta.XattrACLDefault {
		if acl, err := fsmeta.DecodePosixACL(v); err == nil {
			return acl.String()
		}
	}
	s := string(v)
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Sprintf("<%d bytes>", len(v))
		}
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func (m *merger) compareACL(path, rel string, a wantAttrs) error {
	if a.acl == nil {
		return nil
	}
	want, err := fsmeta.DecodeACL(a.acl)
	if err != nil {
		return fmt.Errorf("read verify index: ACL of %s: %w", rel, err)
	}
	have, err := fsmeta.ReadNFS4ACL(path)
	switch {
	case errors.Is(err, fsmeta.ErrACLNotSupported):
		if !want.Trivial() {
			m.rep.add(Diff{Path: rel, Kind: KindACL, Want: want.String(),
				Got: "none (no NFSv4 ACLs on " + runtime.GOOS + "; --ignore acls to accept that)"})
		}
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read ACL of %s: %w", path, err)
	case have.String() != want.String():
		m.rep.add(Diff{Path: rel, Kind: KindACL, Want: want.String(), Got: have.String()})
	}
	return nil
}
