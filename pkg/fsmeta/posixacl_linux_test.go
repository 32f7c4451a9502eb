package fsmeta

import (
	"os"
	"testing"
)

// TestPosixACLThroughTheKernel sets an ACL as its attribute (what setfacl
// does) and reads it back; the kernel validates the binary form.
func TestPosixACLThroughTheKernel(t *testing.T) {
	p := xattrFile(t)
	acl, err := ParsePosixACL("user::rw-,user:1234:r--,group::r--,mask::r--,other::---")
	if err != nil {
		t.Fatal(err)
	}
	want := Xattrs{XattrACLAccess: acl.Encode(), "user.comment": []byte("c")}
	if _, err := SetXattrs(p, want); err != nil {
		t.Skipf("file system refuses POSIX ACLs: %v", err)
	}
	got, err := ReadXattrs(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodePosixACL(got[XattrACLAccess])
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != acl.String() {
		t.Fatalf("kernel gave back %q; want %q", back, acl)
	}
	fi, _ := os.Lstat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v; want the ACL's 0640 (group bits are the mask)", fi.Mode().Perm())
	}
	if _, err := SetXattrs(p, Xattrs{"user.comment": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadXattrs(p); len(got) != 1 {
		t.Fatalf("ACL not removed: %v", got.Names())
	}
}
