//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/test/harness"
)

// setfacl runs Debian's setfacl (package acl). JETSYNC_REQUIRE_SETFACL=1
// (set by CI) makes its absence a failure instead of a skip.
func setfacl(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("setfacl"); err != nil {
		if os.Getenv("JETSYNC_REQUIRE_SETFACL") == "1" {
			t.Fatal("setfacl not found (install Debian's acl package)")
		}
		t.Skip("no setfacl on PATH (Debian package acl); set JETSYNC_REQUIRE_SETFACL=1 to make this a failure")
	}
	if out, err := exec.Command("setfacl", args...).CombinedOutput(); err != nil {
		t.Fatalf("setfacl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// attrsLine describes one path's owner, mode and extended attributes
// (POSIX ACLs as getfacl's short form), for comparing two trees.
func attrsLine(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		return "missing"
	}
	st := fi.Sys().(*syscall.Stat_t)
	x, err := fsmeta.ReadXattrs(p)
	if err != nil {
		return "xattrs: " + err.Error()
	}
	parts := []string{fmt.Sprintf("%d:%d %v rdev %#x", st.Uid, st.Gid, fi.Mode(), st.Rdev)}
	for _, n := range x.Names() {
		v := fmt.Sprintf("%q", x[n])
		if acl, err := fsmeta.DecodePosixACL(x[n]); err == nil && strings.HasPrefix(n, "system.posix_acl") {
			v = acl.String()
		}
		parts = append(parts, n+"="+v)
	}
	return strings.Join(parts, " ")
}

// attrsDiff lists the paths of src whose attrsLine differs in dst.
func attrsDiff(t *testing.T, src, dst string) string {
	t.Helper()
	var diffs []string
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.Mode()&os.ModeSocket != 0 {
			return nil // sockets are not replicated
		}
		if a, b := attrsLine(t, p), attrsLine(t, filepath.Join(dst, rel)); a != b {
			diffs = append(diffs, fmt.Sprintf("%s: source %s, replica %s", rel, a, b))
		}
		return nil
	})
	if err != nil {
		return err.Error()
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}

// TestNASAttributes replicates what a NAS share keeps beside its bytes:
// owners of files, directories and symlinks, user and trusted extended
// attributes, POSIX access and default ACLs, setuid; then live changes of
// each; then `verify` names each kind of difference made on the replica,
// and --ignore leaves them out.
func TestNASAttributes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("replicating owners needs root (CI runs as root)")
	}
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	p := func(rel string) string { return filepath.Join(src, rel) }
	harness.Must(t, os.MkdirAll(p("share/team"), 0o770))
	harness.WriteFile(t, p("share/owned.txt"), "owned by 1234:5678\n", 0o640)
	harness.WriteFile(t, p("share/comment.txt"), "has a comment\n", 0o644)
	harness.WriteFile(t, p("share/acl.txt"), "readable by user 1234\n", 0o640)
	harness.WriteFile(t, p("share/team/tool"), "#!/bin/sh\n", 0o755)
	harness.Must(t, os.Symlink("../owned.txt", p("share/team/link")))
	if _, err := fsmeta.SetXattrs(p("share/comment.txt"), fsmeta.Xattrs{"user.comment": []byte("keep me"),
		"trusted.origin": []byte("old box")}); err != nil {
		t.Skipf("the temp dir's file system takes no extended attributes: %v", err)
	}
	harness.Must(t, os.Lchown(p("share/owned.txt"), 1234, 5678))
	harness.Must(t, os.Lchown(p("share/team"), 2000, 3000))
	harness.Must(t, os.Lchown(p("share/team/link"), 1234, 1234))
	harness.Must(t, os.Lchown(p("share/team/tool"), 1234, 0))
	harness.Must(t, os.Chmod(p("share/team/tool"), 0o755|os.ModeSetuid))
	harness.Must(t, unix.Mkfifo(p("share/pipe"), 0o620))
	harness.Must(t, unix.Mknod(p("share/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	harness.Must(t, unix.Mknod(p("share/loop"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 200))))
	sock, err := net.Listen("unix", p("share/sock"))
	harness.Must(t, err)
	defer sock.Close()
	setfacl(t, "-m", "u:1234:r", p("share/acl.txt"))
	setfacl(t, "-d", "-m", "g:777:rwx", p("share/team"))
	// The folder root itself.
	harness.Must(t, os.Chmod(src, 0o2750|os.ModeSetgid))
	harness.Must(t, os.Lchown(src, 1234, 5678))
	harness.Must(t, unixSetxattr(src, "user.share", []byte("the share's root")))

	tr := harness.StartTrio(t, "nas-attrs", src)
	converged := func(what string) {
		t.Helper()
		harness.Eventually(t, time.Minute, func() (bool, string) {
			d := attrsDiff(t, src, tr.Dst)
			return d == "", what + ":\n" + d
		})
		if res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst); res.Code != 0 {
			t.Fatalf("%s: verify: %s", what, res)
		}
	}
	// The socket is not replicated (treegen.Compare would stop at it).
	converged("initial sync")
	if _, err := os.Lstat(filepath.Join(tr.Dst, "share/sock")); err == nil {
		t.Error("a socket was replicated")
	}
	if !strings.Contains(tr.Source.LastRunLog(), "not replicating a socket") {
		t.Error("the source did not say it skips the socket")
	}

	harness.Phase(t, "live changes", func() {
		harness.Must(t, os.Lchown(p("share/owned.txt"), 4321, 8765))                                  // chown
		harness.Must(t, os.Lchown(p("share/team/tool"), 1234, 5678))                                  // chgrp
		harness.Must(t, unixRemovexattr(p("share/comment.txt"), "trusted.origin"))                    // removexattr
		harness.Must(t, unixSetxattr(p("share/comment.txt"), "user.comment", []byte("changed live"))) // setfattr
		harness.Must(t, unixSetxattr(p("share/team"), "user.dir", []byte("on a directory")))          // on a directory
		setfacl(t, "-m", "u:4321:rw", p("share/acl.txt"))                                             // setfacl
		setfacl(t, "-b", p("share/team/tool"))                                                        // no ACL at all
		harness.WriteFile(t, p("share/team/new.txt"), "inherits the default ACL\n", 0o640)            // inherited
		harness.Must(t, os.Chmod(src, 0o755))                                                         // the root's mode
		harness.Must(t, os.Chmod(p("share/pipe"), 0o600))                                             // a FIFO's mode
		harness.Must(t, os.Remove(p("share/loop")))                                                   // another device
		harness.Must(t, unix.Mknod(p("share/loop"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 201))))
		converged("after live changes")
	})

	harness.Phase(t, "verify names each kind", func() {
		harness.Must(t, tr.Replica.Stop())
		dst := func(rel string) string { return filepath.Join(tr.Dst, rel) }
		harness.Must(t, os.Lchown(dst("share/owned.txt"), 0, 0))
		harness.Must(t, unixRemovexattr(dst("share/comment.txt"), "user.comment"))
		setfacl(t, "-x", "u:1234", dst("share/acl.txt")) // the mask, hence the mode, stays rw-
		res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst)
		if res.Code != 1 {
			t.Fatalf("verify of a tampered replica: want exit 1, got %s", res)
		}
		for _, want := range []string{
			"owner share/owned.txt (want 4321:8765, got 0:0)",
			`xattr share/comment.txt (want user.comment="changed live", got user.comment absent)`,
			"xattr share/acl.txt (want system.posix_acl_access=user::rw-,user:1234:r--,user:4321:rw-,group::r--,mask::rw-,other::---",
		} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("verify does not say %q:\n%s", want, res.Stdout)
			}
		}
		res = harness.Verify(t, tr.URL, tr.Folder, tr.Dst, "--ignore", "owners,xattrs")
		if res.Code != 0 {
			t.Errorf("verify --ignore owners,xattrs: want exit 0, got %s", res)
		}
		if res := harness.Verify(t, tr.URL, tr.Folder, tr.Dst, "--ignore", "colours"); res.Code != 2 {
			t.Errorf("verify --ignore colours: want usage error 2, got %s", res)
		}
	})
}

func unixSetxattr(p, name string, v []byte) error { return unix.Lsetxattr(p, name, v, 0) }

func unixRemovexattr(p, name string) error { return unix.Lremovexattr(p, name) }

// nobody is the user a replica that is not root runs as in
// TestReplicaNotRoot.
const nobody = 65534

// openTo makes dir owned by uid, and every directory above it up to the
// root traversable by any user.
func openTo(t *testing.T, dir string, uid int) {
	t.Helper()
	harness.Must(t, os.MkdirAll(dir, 0o755))
	harness.Must(t, os.Chown(dir, uid, uid))
	traversable(t, filepath.Dir(dir))
}

// traversable makes dir and every directory above it searchable by any
// user.
func traversable(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		harness.Must(t, err)
		harness.Must(t, os.Chmod(d, fi.Mode().Perm()|0o011))
	}
}

// TestReplicaNotRoot: a replica running as an ordinary user writes every
// file and keeps what it may (user attributes, ACLs, FIFOs), and counts
// the rest with one warning per kind (owners, trusted.* attributes,
// device nodes), never an error per file.
func TestReplicaNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting a replica as another user needs root (CI runs as root)")
	}
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	p := func(rel string) string { return filepath.Join(src, rel) }
	harness.Must(t, os.MkdirAll(p("d"), 0o755))
	for i := range 5 {
		f := p(fmt.Sprintf("d/f%d", i))
		harness.WriteFile(t, f, fmt.Sprintf("file %d\n", i), 0o644)
		harness.Must(t, os.Lchown(f, 1234+i, 5678))
	}
	if _, err := fsmeta.SetXattrs(p("d/f0"), fsmeta.Xattrs{"user.comment": []byte("kept"), "trusted.t": []byte("root only")}); err != nil {
		t.Skipf("the temp dir's file system takes no extended attributes: %v", err)
	}
	setfacl(t, "-m", "u:1234:rw", p("d/f1"))
	harness.Must(t, unix.Mkfifo(p("d/pipe"), 0o600))
	harness.Must(t, unix.Mknod(p("d/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	harness.StartBroker(t, filepath.Join(base, "broker"), addr)
	harness.StartSource(t, "source", url, "notroot", src, filepath.Join(base, "source"))
	dst, data := filepath.Join(base, "dst"), filepath.Join(base, "replica")
	openTo(t, dst, nobody)
	openTo(t, data, nobody)
	creds := filepath.Join(data, "replica.nk")
	b, err := os.ReadFile(harness.Credentials(t, url, access.ReplicaOf("notroot", "r1")))
	harness.Must(t, err)
	harness.Must(t, os.WriteFile(creds, b, 0o600))
	harness.Must(t, os.Chown(creds, nobody, nobody))
	traversable(t, filepath.Dir(harness.Bin))
	metrics := harness.FreeAddr(t)
	rep := harness.StartAs(t, nobody, nobody, "replica", "replica", "--folder", "notroot", "--path", dst, "--data", data,
		"--nats", url, "--id", "r1", "--log-format", "text", "--nkey", creds, "--metrics", metrics)

	harness.Eventually(t, time.Minute, func() (bool, string) {
		for i := range 5 {
			b, _ := os.ReadFile(filepath.Join(dst, fmt.Sprintf("d/f%d", i)))
			if string(b) != fmt.Sprintf("file %d\n", i) {
				return false, fmt.Sprintf("d/f%d holds %q", i, b)
			}
		}
		fi, err := os.Lstat(filepath.Join(dst, "d/pipe"))
		return err == nil && fi.Mode()&os.ModeNamedPipe != 0, "no FIFO"
	})
	x, err := fsmeta.ReadXattrs(filepath.Join(dst, "d/f0"))
	harness.Must(t, err)
	if string(x["user.comment"]) != "kept" || x["trusted.t"] != nil {
		t.Errorf("d/f0 has %v, want user.comment only", x.Names())
	}
	if x, _ := fsmeta.ReadXattrs(filepath.Join(dst, "d/f1")); x[fsmeta.XattrACLAccess] == nil {
		t.Errorf("d/f1 lost its ACL: %v", x.Names())
	}
	if uid, _ := fileOwner(t, filepath.Join(dst, "d/f2")); uid != nobody {
		t.Errorf("d/f2 owned by %d, want the replica's user %d", uid, nobody)
	}
	if _, err := os.Lstat(filepath.Join(dst, "d/null")); err == nil {
		t.Error("a device node was made by a replica that is not root")
	}
	series := harness.ScrapeEventually(t, metrics)
	for _, kind := range []string{"owner", "xattr", "special"} {
		if n := harness.Metric(series, "jetsync_replica_attrs_skipped_total", `kind="`+kind+`"`); n < 1 {
			t.Errorf("attrs_skipped_total{kind=%q} = %v", kind, n)
		}
	}
	logs := rep.LastRunLog()
	if n := strings.Count(logs, "cannot set owners"); n != 1 {
		t.Errorf("%d warnings about owners, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("errors logged:\n%s", harness.GrepLines(logs, "level=ERROR"))
	}
}

func fileOwner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	harness.Must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}
