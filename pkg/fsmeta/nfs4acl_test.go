package fsmeta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// sampleACL is what ZFS on TrueNAS CORE gives a shared directory: a named
// user and group, and inheritable entries.
func sampleACL() *ACL {
	return &ACL{Platform: PlatformFreeBSDNFS4, Entries: []ACE{
		{Tag: TagUser, ID: 1234, Perms: 0x8 | 0x1 | 0x200 | 0x1000 | 0x8000, Type: TypeAllow, Flags: 0x1 | 0x2},
		{Tag: TagGroup, ID: 5678, Perms: PermAll &^ (0x2000 | 0x4000), Type: TypeAllow, Flags: 0x80},
		{Tag: TagOwner, ID: undefinedID, Perms: PermAll, Type: TypeAllow},
		{Tag: TagEveryone, ID: undefinedID, Perms: 0x10, Type: TypeDeny},
	}}
}

func TestACLEncodingRoundTrips(t *testing.T) {
	acl := sampleACL()
	b, err := acl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + len(PlatformFreeBSDNFS4) + 2 + 16*4; len(b) != want {
		t.Fatalf("encoding is %d bytes; want %d", len(b), want)
	}
	got, err := DecodeACL(b)
	if err != nil || !reflect.DeepEqual(got, acl) {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	if acl.Trivial() {
		t.Error("ACL with named entries reported trivial")
	}
}

func TestACLText(t *testing.T) {
	want := "freebsd-nfs4:user:1234:r-x---a---c--s:fd-----:allow," +
		"group:5678:rwxpdDaARWc--s:------I:allow," +
		"owner@:rwxpdDaARWcCos:-------:allow,everyone@:-w------------:-------:deny"
	if got := sampleACL().String(); got != want {
		t.Fatalf("String =\n%s\nwant\n%s", got, want)
	}
}

func TestACLForeignPlatformIsKept(t *testing.T) {
	acl := &ACL{Platform: "illumos-nfs4", Entries: []ACE{{Tag: 0x1000, ID: 7, Perms: 1 << 31, Type: 9}}}
	b, err := acl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeACL(b); err != nil || !reflect.DeepEqual(got, acl) {
		t.Fatalf("decode = %+v, %v", got, err)
	}
}

func TestDecodeACLRejectsMalformed(t *testing.T) {
	good, _ := sampleACL().Encode()
	bad := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	cases := map[string][]byte{
		"empty":       nil,
		"version":     bad(func(b []byte) []byte { b[0] = 2; return b }),
		"truncated":   good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"count":       bad(func(b []byte) []byte { b[2+len(PlatformFreeBSDNFS4)] = 5; return b }),
		"tag":         bad(func(b []byte) []byte { b[16] = 0x10; return b }),
		"no platform": {1, 0, 0, 0},
		"too many":    append([]byte{1, 1, 'x', 0xff, 0}, make([]byte, 16*255)...),
	}
	for name, b := range cases {
		if _, err := DecodeACL(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNFS4ACLOffFreeBSD(t *testing.T) {
	if platformHasNFS4 {
		t.Skip("on FreeBSD")
	}
	if _, err := ReadNFS4ACL(t.TempDir()); !errors.Is(err, ErrACLNotSupported) {
		t.Fatalf("ReadNFS4ACL = %v; want ErrACLNotSupported", err)
	}
	if err := WriteNFS4ACL(t.TempDir(), sampleACL()); !errors.Is(err, ErrACLNotSupported) {
		t.Fatalf("WriteNFS4ACL = %v; want ErrACLNotSupported", err)
	}
}

func FuzzDecodeACL(f *testing.F) {
	b, _ := sampleACL().Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		acl, err := DecodeACL(in)
		if err != nil {
			return
		}
		out, err := acl.Encode()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%x re-encodes as %x, %v", in, out, err)
		}
		_ = acl.String()
	})
}
