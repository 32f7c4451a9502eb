package fsmeta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PlatformFreeBSDNFS4 tags an ACL read through FreeBSD's ACL system calls
// as type NFSv4 (ZFS on FreeBSD and TrueNAS CORE, UFS with nfsv4acls).
const PlatformFreeBSDNFS4 = "freebsd-nfs4"

// ErrACLNotSupported reports that the platform or the file system has no
// NFSv4 ACLs; a replica keeps the ACL in its records and counts it.
var ErrACLNotSupported = errors.New("NFSv4 ACLs not supported here")

// Tags, entry types, permission and flag bits of NFSv4 ACL entries, with
// the values of FreeBSD's <sys/acl.h> (the encoding carries them as is).
const (
	TagOwner      = 0x01 // owner@
	TagUser       = 0x02 // user:ID
	TagGroupOwner = 0x04 // group@
	TagGroup      = 0x08 // group:ID
	TagEveryone   = 0x40 // everyone@

	TypeAllow = 0x0100
	TypeDeny  = 0x0200
	TypeAudit = 0x0400
	TypeAlarm = 0x0800

	PermAll  = 0xfff9 // ACL_FULL_SET: read_data .. synchronize, and execute
	FlagsAll = 0x00bf // ACL_FLAGS_BITS: file_inherit .. inherited

	// MaxACLEntries is FreeBSD's ACL_MAX_ENTRIES.
	MaxACLEntries = 254
	aclVersion    = 1
	maxPlatform   = 32
	undefinedID   = 0xffffffff
)

// ACE is one NFSv4 ACL entry. ID is the user or group number for TagUser
// and TagGroup, undefined (all ones) otherwise.
type ACE struct {
	Tag   uint32
	ID    uint32
	Perms uint32
	Type  uint16
	Flags uint16
}

// ACL is an access control list in a platform's own form, tagged with
// the platform so that a replica elsewhere keeps it without applying it.
type ACL struct {
	Platform string
	Entries  []ACE
}

// Encode returns acl as: a version byte, the platform as a length byte and
// its name, an entry count (16 bits), then per entry tag, id, perms
// (32 bits each), type and flags (16 bits each), all little-endian.
func (acl *ACL) Encode() ([]byte, error) {
	if err := acl.check(); err != nil {
		return nil, fmt.Errorf("encode acl: %w", err)
	}
	b := make([]byte, 0, 4+len(acl.Platform)+16*len(acl.Entries))
	b = append(b, aclVersion, byte(len(acl.Platform)))
	b = append(b, acl.Platform...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(acl.Entries)))
	for _, e := range acl.Entries {
		b = binary.LittleEndian.AppendUint32(b, e.Tag)
		b = binary.LittleEndian.AppendUint32(b, e.ID)
		b = binary.LittleEndian.AppendUint32(b, e.Perms)
		b = binary.LittleEndian.AppendUint16(b, e.Type)
		b = binary.LittleEndian.AppendUint16(b, e.Flags)
	}
	return b, nil
}

// DecodeACL decodes an Encode encoding. Entries of the freebsd-nfs4
// platform are checked against FreeBSD's tags and bits; other platforms'
// entries are kept as they are.
func DecodeACL(b []byte) (*ACL, error) {
	if len(b) < 2 || b[0] != aclVersion {
		return nil, fmt.Errorf("decode acl: bad header: %w", errMalformed)
	}
	n := int(b[1])
	if len(b) < 2+n+2 {
		return nil, fmt.Errorf("decode acl: truncated: %w", errMalformed)
	}
	acl := &ACL{Platform: string(b[2 : 2+n])}
	b = b[2+n:]
	count := int(binary.LittleEndian.Uint16(b))
	if b = b[2:]; count > MaxACLEntries || len(b) != 16*count {
		return nil, fmt.Errorf("decode acl: %d entries in %d bytes: %w", count, len(b), errMalformed)
	}
	acl.Entries = make([]ACE, count)
	for i := range acl.Entries {
		p := b[16*i:]
		acl.Entries[i] = ACE{
			Tag: binary.LittleEndian.Uint32(p), ID: binary.LittleEndian.Uint32(p[4:]),
			Perms: binary.LittleEndian.Uint32(p[8:]),
			Type:  binary.LittleEndian.Uint16(p[12:]), Flags: binary.LittleEndian.Uint16(p[14:]),
		}
	}
	if err := acl.check(); err != nil {
		return nil, fmt.Errorf("decode acl: %w", err)
	}
	return acl, nil
}

// check validates acl against the limits, and its entries where the
// platform is known.
func (acl *ACL) check() error {
	if acl.Platform == "" || len(acl.Platform) > maxPlatform {
		return fmt.Errorf("platform %q: %w", acl.Platform, errMalformed)
	}
	if len(acl.Entries) > MaxACLEntries {
		return fmt.Errorf("%d entries: %w", len(acl.Entries), errMalformed)
	}
	if acl.Platform != PlatformFreeBSDNFS4 {
		return nil
	}
	for i, e := range acl.Entries {
		if err := e.check(); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// check validates one FreeBSD NFSv4 entry.
func (e ACE) check() error {
	_, tagOK := tagNames[e.Tag]
	_, typeOK := typeNames[e.Type]
	switch {
	case !tagOK, !typeOK, e.Perms&^PermAll != 0, e.Flags&^FlagsAll != 0:
		return fmt.Errorf("%+v: %w", e, errMalformed)
	case e.Tag != TagUser && e.Tag != TagGroup && e.ID != undefinedID:
		return fmt.Errorf("id on %s: %w", tagNames[e.Tag], errMalformed)
	}
	return nil
}

// Trivial reports whether acl says no more than a file mode: only owner@,
// group@ and everyone@ entries, none inherited or inheritable. The
// replica's own mode then stands for it.
func (acl *ACL) Trivial() bool {
	for _, e := range acl.Entries {
		if e.Tag == TagUser || e.Tag == TagGroup || e.Flags != 0 {
			return false
		}
	}
	return true
}

// Text forms, as FreeBSD's getfacl prints them.
var (
	tagNames  = map[uint32]string{TagOwner: "owner@", TagUser: "user", TagGroupOwner: "group@", TagGroup: "group", TagEveryone: "everyone@"}
	typeNames = map[uint16]string{TypeAllow: "allow", TypeDeny: "deny", TypeAudit: "audit", TypeAlarm: "alarm"}
	permChars = []struct {
		bit uint32
		c   byte
	}{{0x8, 'r'}, {0x10, 'w'}, {0x1, 'x'}, {0x20, 'p'}, {0x800, 'd'}, {0x100, 'D'}, {0x200, 'a'},
		{0x400, 'A'}, {0x40, 'R'}, {0x80, 'W'}, {0x1000, 'c'}, {0x2000, 'C'}, {0x4000, 'o'}, {0x8000, 's'}}
	flagChars = []struct {
		bit uint16
		c   byte
	}{{0x1, 'f'}, {0x2, 'd'}, {0x8, 'i'}, {0x4, 'n'}, {0x10, 'S'}, {0x20, 'F'}, {0x80, 'I'}}
)

// String returns acl like FreeBSD's getfacl -n, entries separated by
// commas: "owner@:rw-p--aARWcCos:-------:allow,user:1234:r-----a-R-c--s:-------:allow".
func (acl *ACL) String() string {
	parts := make([]string, len(acl.Entries))
	for i, e := range acl.Entries {
		parts[i] = e.String()
	}
	return acl.Platform + ":" + strings.Join(parts, ",")
}

// String returns one entry in getfacl's form.
func (e ACE) String() string {
	tag, ok := tagNames[e.Tag]
	if !ok {
		tag = "tag" + strconv.FormatUint(uint64(e.Tag), 16)
	}
	if e.Tag == TagUser || e.Tag == TagGroup {
		tag += ":" + strconv.FormatUint(uint64(e.ID), 10)
	}
	perms := make([]byte, len(permChars))
	for i, p := range permChars {
		perms[i] = '-'
		if e.Perms&p.bit != 0 {
			perms[i] = p.c
		}
	}
	flags := make([]byte, len(flagChars))
	for i, f := range flagChars {
		flags[i] = '-'
		if e.Flags&f.bit != 0 {
			flags[i] = f.c
		}
	}
	typ, ok := typeNames[e.Type]
	if !ok {
		typ = "type" + strconv.FormatUint(uint64(e.Type), 16)
	}
	return tag + ":" + string(perms) + ":" + string(flags) + ":" + typ
}
