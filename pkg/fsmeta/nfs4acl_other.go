//go:build !freebsd

package fsmeta

// platformHasNFS4 tells the tests that the system calls are stubs here.
const platformHasNFS4 = false

// ReadNFS4ACL returns ErrACLNotSupported: only FreeBSD's NFSv4 ACLs are
// read.
func ReadNFS4ACL(path string) (*ACL, error) { return nil, ErrACLNotSupported }

// WriteNFS4ACL returns ErrACLNotSupported: the caller keeps the ACL in
// its records and counts it.
func WriteNFS4ACL(path string, acl *ACL) error { return ErrACLNotSupported }
