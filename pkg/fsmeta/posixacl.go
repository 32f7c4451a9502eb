package fsmeta

// Names of the extended attributes in which Linux keeps POSIX ACLs.
const (
	XattrACLAccess  = "system.posix_acl_access"
	XattrACLDefault = "system.posix_acl_default"
)
