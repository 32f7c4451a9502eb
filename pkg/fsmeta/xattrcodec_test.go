package fsmeta

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestXattrsEncodingRoundTrips(t *testing.T) {
	x := Xattrs{"user.b": []byte("2"), "user.a": []byte("1"), "user.empty": {}}
	b, err := EncodeXattrs(x)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("\x01\x03\x06user.a\x011\x06user.b\x012\x0auser.empty\x00")
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding = %q; want %q", b, want)
	}
	got, err := DecodeXattrs(b)
	if err != nil || !reflect.DeepEqual(got, x) {
		t.Fatalf("decode = %v, %v", got, err)
	}
	if b, _ := EncodeXattrs(nil); b != nil {
		t.Fatalf("empty set encodes to %q; want nil", b)
	}
}

func TestEncodeXattrsRejectsOversize(t *testing.T) {
	cases := map[string]Xattrs{
		"value": {"user.a": make([]byte, MaxXattrValue+1)},
		"total": func() Xattrs {
			x := Xattrs{}
			for i := range 17 {
				x["user."+strings.Repeat("x", i+1)] = make([]byte, MaxXattrValue)
			}
			return x
		}(),
	}
	for name, x := range cases {
		if _, err := EncodeXattrs(x); !errors.Is(err, ErrXattrsTooLarge) {
			t.Errorf("%s: err = %v; want ErrXattrsTooLarge", name, err)
		}
	}
	if _, err := EncodeXattrs(Xattrs{"": nil}); err == nil {
		t.Error("empty name accepted")
	}
}

func TestDecodeXattrsRejectsMalformed(t *testing.T) {
	cases := map[string]string{
		"version":   "\x02\x01\x01a\x00",
		"unsorted":  "\x01\x02\x01b\x00\x01a\x00",
		"repeated":  "\x01\x02\x01a\x00\x01a\x00",
		"truncated": "\x01\x01\x05ab",
		"trailing":  "\x01\x01\x01a\x00\x00",
		"padded":    "\x01\x01\x81\x00a\x00",
		"zero":      "\x01\x00",
		"nul name":  "\x01\x01\x01\x00\x00",
		"huge":      "\x01\x01\x01a\xff\xff\xff\x0f",
	}
	for name, in := range cases {
		if _, err := DecodeXattrs([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeXattrs(f *testing.F) {
	b, _ := EncodeXattrs(Xattrs{"user.a": []byte("1"), "system.posix_acl_access": {2, 0, 0, 0}})
	f.Add(b)
	f.Add([]byte{1, 1, 1, 'a', 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := DecodeXattrs(in)
		if err != nil {
			return
		}
		out, err := EncodeXattrs(x)
		if err != nil {
			t.Fatalf("decoded set does not encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("not canonical: %q re-encodes as %q", in, out)
		}
	})
}
