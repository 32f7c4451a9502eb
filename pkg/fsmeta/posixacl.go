package fsmeta

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Names of the extended attributes in which Linux keeps POSIX ACLs. They
// travel as extended attributes; this file only reads them out for
// messages such as verify's.
const (
	XattrACLAccess  = "system.posix_acl_access"
	XattrACLDefault = "system.posix_acl_default"
)

// Tags of POSIX ACL entries, as in the kernel's binary format.
const (
	PosixUserObj  = 0x01
	PosixUser     = 0x02
	PosixGroupObj = 0x04
	PosixGroup    = 0x08
	PosixMask     = 0x10
	PosixOther    = 0x20
)

// posixACLVersion is the version word of the binary format;
// posixUndefinedID is the id of entries without a qualifier.
const (
	posixACLVersion  = 2
	posixUndefinedID = 0xffffffff
	maxPosixEntries  = MaxXattrValue / 8
)

// PosixACLEntry is one entry: a tag, permission bits (4 read, 2 write,
// 1 execute) and, for PosixUser and PosixGroup, the numeric id.
type PosixACLEntry struct {
	Tag  uint16
	Perm uint16
	ID   uint32
}

// PosixACL is a POSIX ACL in the kernel's order.
type PosixACL []PosixACLEntry

// posixTagNames names the tags as getfacl does.
var posixTagNames = map[uint16]string{
	PosixUserObj: "user", PosixUser: "user", PosixGroupObj: "group",
	PosixGroup: "group", PosixMask: "mask", PosixOther: "other",
}

// named reports whether tag takes an id.
func named(tag uint16) bool { return tag == PosixUser || tag == PosixGroup }

// DecodePosixACL decodes the value of a POSIX ACL attribute: a
// little-endian version word 2, then 8-byte entries (tag, perm: 16 bits;
// id: 32 bits). It rejects unknown tags and permission bits, and an id on
// an entry that takes none.
func DecodePosixACL(b []byte) (PosixACL, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || len(b) > 4+8*maxPosixEntries {
		return nil, fmt.Errorf("decode posix acl: %d bytes: %w", len(b), errMalformed)
	}
	if v := binary.LittleEndian.Uint32(b); v != posixACLVersion {
		return nil, fmt.Errorf("decode posix acl: version %d: %w", v, errMalformed)
	}
	acl := make(PosixACL, 0, (len(b)-4)/8)
	for p := b[4:]; len(p) > 0; p = p[8:] {
		e := PosixACLEntry{
			Tag:  binary.LittleEndian.Uint16(p),
			Perm: binary.LittleEndian.Uint16(p[2:]),
			ID:   binary.LittleEndian.Uint32(p[4:]),
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("decode posix acl: %w", err)
		}
		acl = append(acl, e)
	}
	return acl, nil
}

// check validates one entry.
func (e PosixACLEntry) check() error {
	if _, ok := posixTagNames[e.Tag]; !ok {
		return fmt.Errorf("tag %#x: %w", e.Tag, errMalformed)
	}
	if e.Perm&^7 != 0 {
		return fmt.Errorf("permissions %#x: %w", e.Perm, errMalformed)
	}
	if !named(e.Tag) && e.ID != posixUndefinedID {
		return fmt.Errorf("id %d on %s entry: %w", e.ID, posixTagNames[e.Tag], errMalformed)
	}
	return nil
}

// Encode returns the kernel's binary form of acl.
func (acl PosixACL) Encode() []byte {
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+8*len(acl)), posixACLVersion)
	for _, e := range acl {
		b = binary.LittleEndian.AppendUint16(b, e.Tag)
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, e.ID)
	}
	return b
}

// String returns acl as getfacl's short form, with numeric ids:
// "user::rw-,user:1234:r--,group::r--,mask::r--,other::---".
func (acl PosixACL) String() string {
	parts := make([]string, len(acl))
	for i, e := range acl {
		q := ""
		if named(e.Tag) {
			q = strconv.FormatUint(uint64(e.ID), 10)
		}
		parts[i] = posixTagNames[e.Tag] + ":" + q + ":" + permString(e.Perm)
	}
	return strings.Join(parts, ",")
}

// permString renders permission bits as "rwx" with dashes.
func permString(p uint16) string {
	b := []byte("---")
	for i, c := range "rwx" {
		if p&(4>>i) != 0 {
			b[i] = byte(c)
		}
	}
	return string(b)
}

// ParsePosixACL parses the form String returns.
func ParsePosixACL(s string) (PosixACL, error) {
	if s == "" {
		return PosixACL{}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxPosixEntries {
		return nil, fmt.Errorf("parse posix acl: %d entries: %w", len(parts), errMalformed)
	}
	acl := make(PosixACL, 0, len(parts))
	for _, part := range parts {
		e, err := parsePosixEntry(part)
		if err != nil {
			return nil, fmt.Errorf("parse posix acl %q: %w", part, err)
		}
		acl = append(acl, e)
	}
	return acl, nil
}

// parsePosixEntry parses "tag:qualifier:perms".
func parsePosixEntry(s string) (PosixACLEntry, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 || len(f[2]) != 3 {
		return PosixACLEntry{}, errMalformed
	}
	e := PosixACLEntry{ID: posixUndefinedID}
	switch {
	case f[0] == "user" && f[1] == "":
		e.Tag = PosixUserObj
	case f[0] == "user":
		e.Tag = PosixUser
	case f[0] == "group" && f[1] == "":
		e.Tag = PosixGroupObj
	case f[0] == "group":
		e.Tag = PosixGroup
	case f[0] == "mask" && f[1] == "":
		e.Tag = PosixMask
	case f[0] == "other" && f[1] == "":
		e.Tag = PosixOther
	default:
		return e, errMalformed
	}
	if named(e.Tag) {
		id, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || strconv.FormatUint(id, 10) != f[1] {
			return e, errMalformed
		}
		e.ID = uint32(id)
	}
	for i, c := range "rwx" {
		switch f[2][i] {
		case byte(c):
			e.Perm |= 4 >> i
		case '-':
		default:
			return e, errMalformed
		}
	}
	return e, nil
}
