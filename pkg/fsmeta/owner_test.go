//go:build unix

package fsmeta

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOwnerOfReadsNumbersAndNames(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Chown(p, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := OwnerOf(fi)
	if !ok || o.UID != 1234 || o.GID != 5678 {
		t.Fatalf("OwnerOf = %+v, %v; want 1234:5678", o, ok)
	}
	if err := Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Lstat(p)
	if o, _ := OwnerOf(fi); o.User != "root" || o.Group != "root" {
		t.Fatalf("names of 0:0 = %q:%q; want root:root", o.User, o.Group)
	}
}

func TestChownDoesNotFollowSymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	dir := t.TempDir()
	target, link := filepath.Join(dir, "t"), filepath.Join(dir, "l")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("t", link); err != nil {
		t.Fatal(err)
	}
	if err := ApplyOwner(link, Owner{UID: 4321, GID: 8765}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]uint32{link: 4321, target: 0} {
		fi, _ := os.Lstat(p)
		if o, _ := OwnerOf(fi); o.UID != want {
			t.Errorf("%s uid = %d; want %d", filepath.Base(p), o.UID, want)
		}
	}
}

func TestResolveOwnerPrefersLocalNames(t *testing.T) {
	n := newNames(func(byte, uint32) string { return "" }, func(kind byte, name string) (uint32, bool) {
		switch {
		case kind == 'u' && name == "alice":
			return 2001, true
		case kind == 'g' && name == "staff":
			return 3001, true
		}
		return 0, false
	})
	cases := []struct {
		in       Owner
		uid, gid uint32
	}{
		{Owner{UID: 1000, GID: 1000, User: "alice", Group: "staff"}, 2001, 3001},
		{Owner{UID: 1000, GID: 1000, User: "bob", Group: "staff"}, 1000, 3001},
		{Owner{UID: 1234, GID: 5678}, 1234, 5678},
	}
	for _, c := range cases {
		if uid, gid := n.resolve(c.in); uid != c.uid || gid != c.gid {
			t.Errorf("resolve(%+v) = %d:%d; want %d:%d", c.in, uid, gid, c.uid, c.gid)
		}
	}
}

func TestNameCacheAsksOnce(t *testing.T) {
	calls := 0
	n := newNames(func(byte, uint32) string { calls++; return "x" }, func(byte, string) (uint32, bool) {
		calls++
		return 0, false
	})
	for range 3 {
		n.name('u', 7)
		n.id('g', "nobody-here")
	}
	if calls != 2 {
		t.Fatalf("lookups = %d; want 2 (one per key)", calls)
	}
}

// TestChownWithoutPrivilegeIsErrNotPermitted runs a helper as an
// unprivileged user, since dropping privileges in the test process itself
// would affect every test.
func TestChownWithoutPrivilegeIsErrNotPermitted(t *testing.T) {
	if p := os.Getenv("FSMETA_CHOWN_HELPER"); p != "" {
		if err := Chown(p, 0, 0); !errors.Is(err, ErrNotPermitted) {
			t.Fatalf("Chown as nobody = %v; want ErrNotPermitted", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a helper as another user")
	}
	dir := t.TempDir()
	// t.TempDir's parent is private too.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	// The test binary's own directory is private to root: run a copy.
	bin := filepath.Join(dir, "fsmeta.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestChownWithoutPrivilegeIsErrNotPermitted$")
	cmd.Env = append(os.Environ(), "FSMETA_CHOWN_HELPER="+p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
}
