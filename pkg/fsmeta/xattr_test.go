//go:build linux

package fsmeta

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// xattrFile returns a new file in t.TempDir, skipping the test where the
// file system keeps no user attributes.
func xattrFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(p, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("file system keeps no user xattrs: %v", err)
	}
	if err := unix.Lremovexattr(p, "user.probe"); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadXattrsOfPlainFileIsEmpty(t *testing.T) {
	p := xattrFile(t)
	x, err := ReadXattrs(p)
	if err != nil || len(x) != 0 {
		t.Fatalf("ReadXattrs = %v, %v; want empty", x, err)
	}
}

func TestSetXattrsMakesTheSetExact(t *testing.T) {
	p := xattrFile(t)
	big := make([]byte, 2000) // over the first read buffer; ext4 keeps one block of xattrs
	for i := range big {
		big[i] = byte(i)
	}
	first := Xattrs{"user.comment": []byte("hello"), "user.old": []byte("x"), "user.big": big}
	if _, err := SetXattrs(p, first); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadXattrs(p); !reflect.DeepEqual(got, first) {
		t.Fatalf("after first set: %q", got.Names())
	}
	second := Xattrs{"user.comment": []byte("changed"), "user.empty": {}, "user.big": big}
	if _, err := SetXattrs(p, second); err != nil {
		t.Fatal(err)
	}
	got, err := ReadXattrs(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, second) {
		t.Fatalf("after second set: %v; want %v", got.Names(), second.Names())
	}
	if _, err := SetXattrs(p, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadXattrs(p); len(got) != 0 {
		t.Fatalf("after clearing: %v", got.Names())
	}
}

func TestSetXattrsSkipsForeignNamespaces(t *testing.T) {
	p := xattrFile(t)
	skipped, err := SetXattrs(p, Xattrs{"user.a": []byte("1"), "system.freebsd-only": []byte("2")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(skipped, []string{"system.freebsd-only"}) {
		t.Fatalf("skipped = %q", skipped)
	}
}

func TestXattrsOfSymlinkAreTheLinks(t *testing.T) {
	p := xattrFile(t)
	if _, err := SetXattrs(p, Xattrs{"user.t": []byte("target")}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(p), "l")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	if x, err := ReadXattrs(link); err != nil || len(x) != 0 {
		t.Fatalf("ReadXattrs(link) = %v, %v; want the link's own (none)", x.Names(), err)
	}
	// Linux refuses user.* on a symlink: the error must come back, and
	// the target must stay untouched.
	if _, err := SetXattrs(link, Xattrs{"user.l": []byte("link")}); err == nil {
		t.Log("file system accepted user.* on a symlink")
	}
	if x, _ := ReadXattrs(p); len(x) != 1 {
		t.Fatalf("target's xattrs changed through the link: %v", x.Names())
	}
}

func TestTrustedXattrsAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("trusted.* needs root")
	}
	p := xattrFile(t)
	want := Xattrs{"trusted.k": []byte("v"), "user.u": []byte("w")}
	if _, err := SetXattrs(p, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadXattrs(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v; want %v", got.Names(), want.Names())
	}
}

func TestReadXattrsOfMissingFile(t *testing.T) {
	_, err := ReadXattrs(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v; want not exist", err)
	}
}
