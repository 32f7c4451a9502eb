//go:build linux

package apply

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/wire"
)

// skips records what an Attrs applier reports it could not apply.
type skips struct {
	mu  sync.Mutex
	got map[string][]string // kind -> paths
}

func (s *skips) skipped(kind, path string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string][]string{}
	}
	s.got[kind] = append(s.got[kind], path)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("setting owners and trusted.* attributes needs root; run the tests as root to cover them")
	}
}

func encodeXattrs(t *testing.T, x fsmeta.Xattrs) []byte {
	t.Helper()
	b, err := fsmeta.EncodeXattrs(x)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func posixACL(t *testing.T, s string) []byte {
	t.Helper()
	acl, err := fsmeta.ParsePosixACL(s)
	if err != nil {
		t.Fatal(err)
	}
	return acl.Encode()
}

func ownerOf(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func xattrsOf(t *testing.T, p string) fsmeta.Xattrs {
	t.Helper()
	x, err := fsmeta.ReadXattrs(p)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Owners, extended attributes and POSIX ACLs of version 4 records reach
// files (written, and unchanged in content), directories and symlinks,
// and setuid survives the chown that precedes it.
func TestApplyAttrs(t *testing.T) {
	needRoot(t)
	a, s, dir := newApplier(t)
	sk := &skips{}
	a.Attrs = &Attrs{Owners: true, Skipped: sk.skipped}
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fsmeta.SetXattrs(probe, fsmeta.Xattrs{"user.x": []byte("1")}); err != nil {
		t.Skipf("the temp dir's file system takes no user extended attributes: %v", err)
	}
	os.Remove(probe)

	owner := &wire.Owner{UID: 1234, GID: 5678, User: "no-such-user-here", Group: "no-such-group-here"}
	x := fsmeta.Xattrs{"user.comment": []byte("hello"), "trusted.t": []byte("root only"),
		fsmeta.XattrACLAccess: posixACL(t, "user::rwx,user:4321:r--,group::r--,mask::r-x,other::---")}
	file := s.fileRecord("f", randomData(100<<10, 1))
	file.Mode = 0o4750
	file.Attrs = wire.Attrs{Owner: owner, Xattrs: encodeXattrs(t, x)}
	small := &wire.Record{Path: "small", Type: wire.File, Mode: 0o644, MTime: testTime.UnixNano(), Size: 3,
		Hash: wire.Sum([]byte("abc")), Data: wire.EncodeChunk(nil, []byte("abc"), wire.NoCompression),
		Attrs: wire.Attrs{Owner: owner, Xattrs: encodeXattrs(t, fsmeta.Xattrs{"user.a": []byte("b")})}}
	d := &wire.Record{Path: "d", Type: wire.Dir, Mode: 0o755, MTime: testTime.UnixNano(),
		Attrs: wire.Attrs{Owner: owner, Xattrs: encodeXattrs(t, fsmeta.Xattrs{
			fsmeta.XattrACLDefault: posixACL(t, "user::rwx,group::r-x,group:777:rwx,mask::rwx,other::---")})}}
	link := &wire.Record{Path: "d/l", Type: wire.Symlink, MTime: testTime.UnixNano(), Target: "../f",
		Attrs: wire.Attrs{Owner: owner}}
	for _, rec := range []*wire.Record{file, small, d, link} {
		mustApply(t, a, rec)
	}
	for _, p := range []string{"f", "small", "d", "d/l"} {
		if uid, gid := ownerOf(t, filepath.Join(dir, p)); uid != 1234 || gid != 5678 {
			t.Errorf("%s owned by %d:%d, want 1234:5678 (by number: the names do not exist here)", p, uid, gid)
		}
	}
	fi, _ := os.Lstat(filepath.Join(dir, "f"))
	if fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o750 {
		t.Errorf("f has mode %v, want setuid 0750", fi.Mode())
	}
	got := xattrsOf(t, filepath.Join(dir, "f"))
	for n, v := range x {
		if string(got[n]) != string(v) {
			t.Errorf("f: %s = %q, want %q", n, got[n], v)
		}
	}
	if got := xattrsOf(t, filepath.Join(dir, "d")); got[fsmeta.XattrACLDefault] == nil {
		t.Errorf("d has no default ACL: %v", got.Names())
	}

	// A change of attributes alone, content unchanged: the owner by name
	// where the name exists, attributes removed and changed.
	file.Attrs = wire.Attrs{Owner: &wire.Owner{UID: 1234, GID: 5678, User: "root", Group: "root"},
		Xattrs: encodeXattrs(t, fsmeta.Xattrs{"user.comment": []byte("changed")})}
	if res := mustApply(t, a, file); !res.Changed {
		t.Error("an attribute change was not reported as a change")
	}
	if uid, gid := ownerOf(t, filepath.Join(dir, "f")); uid != 0 || gid != 0 {
		t.Errorf("f owned by %d:%d after the change, want root's 0:0 (mapped by name)", uid, gid)
	}
	if got := xattrsOf(t, filepath.Join(dir, "f")); len(got) != 1 || string(got["user.comment"]) != "changed" {
		t.Errorf("f has %v after the change", got.Names())
	}
	fi, _ = os.Lstat(filepath.Join(dir, "f"))
	if fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("f lost setuid to the chown: %v", fi.Mode())
	}
	if res := mustApply(t, a, file); res.Changed {
		t.Error("applying the same record again changed something")
	}
	if len(sk.got) != 0 {
		t.Errorf("skipped %v as root", sk.got)
	}
}

// An older record says nothing of attributes: the path keeps its own.
func TestApplyOldRecordKeepsAttrs(t *testing.T) {
	a, s, dir := newApplier(t)
	a.Attrs = &Attrs{Owners: true}
	rec := s.fileRecord("f", []byte("content"))
	mustApply(t, a, rec)
	p := filepath.Join(dir, "f")
	if _, err := fsmeta.SetXattrs(p, fsmeta.Xattrs{"user.local": []byte("mine")}); err != nil {
		t.Skipf("no user extended attributes here: %v", err)
	}
	old := *rec
	old.V = 3
	old.Mode = 0o600
	mustApply(t, a, &old)
	if got := xattrsOf(t, p); string(got["user.local"]) != "mine" {
		t.Errorf("a version 3 record removed the replica's own attributes: %v", got.Names())
	}
	mustApply(t, a, rec)
	if got := xattrsOf(t, p); len(got) != 0 {
		t.Errorf("a version 4 record without attributes left %v", got.Names())
	}
}

// Without the privilege to chown, the file is still written, and the
// owner is reported skipped once per file, not as an error.
func TestApplyOwnersNotPermitted(t *testing.T) {
	a, s, dir := newApplier(t)
	sk := &skips{}
	a.Attrs = &Attrs{Owners: os.Geteuid() != 0, Skipped: sk.skipped} // as root: owners off
	other := uint32(os.Geteuid() + 1000)
	for _, p := range []string{"a", "b"} {
		rec := s.fileRecord(p, []byte(p))
		rec.Owner = &wire.Owner{UID: other, GID: other}
		mustApply(t, a, rec)
		if got := readFile(t, dir, p); got != p {
			t.Fatalf("%s holds %q", p, got)
		}
		if uid, _ := ownerOf(t, filepath.Join(dir, p)); uid == other {
			t.Errorf("%s got owner %d", p, uid)
		}
	}
	if got := strings.Join(sk.got[SkipOwner], ","); got != "a,b" {
		t.Errorf("owner skips reported for %q, want a,b", got)
	}
}

// An NFSv4 ACL cannot be applied on Linux: counted when it says more than
// the mode, silently equal to the mode otherwise.
func TestApplyNFS4ACLElsewhere(t *testing.T) {
	a, s, _ := newApplier(t)
	sk := &skips{}
	a.Attrs = &Attrs{Skipped: sk.skipped}
	enc := func(es ...fsmeta.ACE) []byte {
		b, err := (&fsmeta.ACL{Platform: fsmeta.PlatformFreeBSDNFS4, Entries: es}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	trivial := s.fileRecord("trivial", []byte("t"))
	trivial.ACL = enc(fsmeta.ACE{Tag: fsmeta.TagOwner, ID: 0xffffffff, Perms: 0x8, Type: fsmeta.TypeAllow})
	rich := s.fileRecord("rich", []byte("r"))
	rich.ACL = enc(fsmeta.ACE{Tag: fsmeta.TagUser, ID: 1234, Perms: 0x8, Type: fsmeta.TypeAllow})
	mustApply(t, a, trivial)
	mustApply(t, a, rich)
	if got := strings.Join(sk.got[SkipACL], ","); got != "rich" {
		t.Errorf("ACL skips reported for %q, want rich", got)
	}
}
