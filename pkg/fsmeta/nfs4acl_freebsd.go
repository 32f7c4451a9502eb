package fsmeta

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// aclTypeNFS4 is ACL_TYPE_NFS4 of <sys/acl.h>.
const aclTypeNFS4 = 4

// platformHasNFS4 tells the tests that the system calls are real here.
const platformHasNFS4 = true

// kernelACE is struct acl_entry of <sys/acl.h>.
type kernelACE struct {
	Tag       uint32
	ID        uint32
	Perm      uint32
	EntryType uint16
	Flags     uint16
}

// kernelACL is struct acl of <sys/acl.h>, what __acl_get_link and
// __acl_set_link read and write.
type kernelACL struct {
	MaxCnt  uint32
	Cnt     uint32
	Spare   [4]int32
	Entries [MaxACLEntries]kernelACE
}

// ReadNFS4ACL returns the NFSv4 ACL of path without following a symbolic
// link (__acl_get_link), or ErrACLNotSupported where the file system has
// none. ZFS gives every file an ACL; see ACL.Trivial.
func ReadNFS4ACL(path string) (*ACL, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	var k kernelACL
	k.MaxCnt = MaxACLEntries
	_, _, e := unix.Syscall(unix.SYS___ACL_GET_LINK, uintptr(unsafe.Pointer(p)), aclTypeNFS4, uintptr(unsafe.Pointer(&k)))
	if err := aclErr("get", path, e); err != nil {
		return nil, err
	}
	if k.Cnt > MaxACLEntries {
		return nil, fmt.Errorf("get acl %s: %d entries", path, k.Cnt)
	}
	acl := &ACL{Platform: PlatformFreeBSDNFS4, Entries: make([]ACE, k.Cnt)}
	for i, ke := range k.Entries[:k.Cnt] {
		acl.Entries[i] = ACE{Tag: ke.Tag, ID: ke.ID, Perms: ke.Perm, Type: ke.EntryType, Flags: ke.Flags}
	}
	return acl, nil
}

// WriteNFS4ACL sets the NFSv4 ACL of path without following a symbolic
// link (__acl_set_link). An ACL of another platform is ErrACLNotSupported.
func WriteNFS4ACL(path string, acl *ACL) error {
	if acl.Platform != PlatformFreeBSDNFS4 {
		return fmt.Errorf("set acl %s: platform %s: %w", path, acl.Platform, ErrACLNotSupported)
	}
	if err := acl.check(); err != nil {
		return fmt.Errorf("set acl %s: %w", path, err)
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	var k kernelACL
	k.MaxCnt, k.Cnt = MaxACLEntries, uint32(len(acl.Entries))
	for i, e := range acl.Entries {
		k.Entries[i] = kernelACE{Tag: e.Tag, ID: e.ID, Perm: e.Perms, EntryType: e.Type, Flags: e.Flags}
	}
	_, _, e := unix.Syscall(unix.SYS___ACL_SET_LINK, uintptr(unsafe.Pointer(p)), aclTypeNFS4, uintptr(unsafe.Pointer(&k)))
	return aclErr("set", path, e)
}

// aclErr maps a system call's errno: EINVAL and EOPNOTSUPP mean the file
// system has no NFSv4 ACLs.
func aclErr(op, path string, e unix.Errno) error {
	switch {
	case e == 0:
		return nil
	case errors.Is(e, unix.EINVAL), errors.Is(e, unix.EOPNOTSUPP):
		return fmt.Errorf("%s acl %s: %w", op, path, ErrACLNotSupported)
	case errors.Is(e, unix.EPERM):
		return fmt.Errorf("%s acl %s: %w", op, path, ErrNotPermitted)
	}
	return fmt.Errorf("%s acl %s: %w", op, path, e)
}

// struct acl is 4,088 bytes on every FreeBSD architecture: fail the build
// if kernelACL is not.
var (
	_ [unsafe.Sizeof(kernelACL{}) - 4088]byte
	_ [4088 - unsafe.Sizeof(kernelACL{})]byte
)
