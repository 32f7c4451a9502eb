package fsmeta

import (
	"bytes"
	"testing"
)

func TestPosixACLTextRoundTrips(t *testing.T) {
	text := "user::rw-,user:1234:r--,group::r--,group:5678:rwx,mask::r-x,other::---"
	acl, err := ParsePosixACL(text)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodePosixACL(acl.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != text {
		t.Fatalf("round trip = %q; want %q", back.String(), text)
	}
}

func TestDecodePosixACLRejectsMalformed(t *testing.T) {
	good, _ := ParsePosixACL("user::rw-,other::r--")
	enc := good.Encode()
	cases := map[string][]byte{
		"short":       enc[:3],
		"ragged":      enc[:len(enc)-1],
		"version":     append([]byte{1, 0, 0, 0}, enc[4:]...),
		"tag":         append(append([]byte{}, enc[:4]...), 0x40, 0, 6, 0, 0xff, 0xff, 0xff, 0xff),
		"perm":        append(append([]byte{}, enc[:4]...), 1, 0, 8, 0, 0xff, 0xff, 0xff, 0xff),
		"id on owner": append(append([]byte{}, enc[:4]...), 1, 0, 6, 0, 1, 0, 0, 0),
	}
	for name, b := range cases {
		if _, err := DecodePosixACL(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParsePosixACLRejectsMalformed(t *testing.T) {
	for _, s := range []string{"user", "user::rw", "user::rwz", "mask:1:r--", "user:x:r--", "user:01:r--", "owner@::rwx", "user::rw-,"} {
		if _, err := ParsePosixACL(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzDecodePosixACL(f *testing.F) {
	acl, _ := ParsePosixACL("user::rw-,user:1234:r--,group::r--,mask::r--,other::---")
	f.Add(acl.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		acl, err := DecodePosixACL(in)
		if err != nil {
			return
		}
		if !bytes.Equal(acl.Encode(), in) {
			t.Fatalf("%x re-encodes as %x", in, acl.Encode())
		}
		back, err := ParsePosixACL(acl.String())
		if err != nil || !bytes.Equal(back.Encode(), in) {
			t.Fatalf("text %q does not parse back: %v", acl.String(), err)
		}
	})
}

func FuzzParsePosixACL(f *testing.F) {
	f.Add("user::rw-,user:1234:r--,group::r--,mask::r--,other::---")
	f.Fuzz(func(t *testing.T, s string) {
		acl, err := ParsePosixACL(s)
		if err != nil {
			return
		}
		if acl.String() != s {
			t.Fatalf("%q prints as %q", s, acl.String())
		}
	})
}
