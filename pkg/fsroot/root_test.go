package fsroot

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/fsstat"
	"github.com/jetsync/jetsync/pkg/wire"
)

var testTime = time.Date(2021, 3, 4, 5, 6, 7, 8000, time.UTC)

// newRoot opens a root in a fresh temp dir and returns it with the dir.
func newRoot(t testing.TB) (*Root, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func writeFile(t testing.TB, r *Root, path, data string) {
	t.Helper()
	tmp, err := r.CreateTemp(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Commit(0o644, testTime); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenNeedsDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(t.TempDir(), "missing")} {
		if r, err := Open(dir); err == nil {
			r.Close()
			t.Errorf("Open(%s) succeeded", dir)
		}
	}
}

func TestRejectsBadPaths(t *testing.T) {
	r, dir := newRoot(t)
	bad := []string{"", "../x", "/etc/passwd", "a/../../x", "a\x00b", "a//b", "./a", "a/", "..",
		strings.Repeat("n", 256)}
	ops := map[string]func(p string) error{
		"Lstat":         func(p string) error { _, err := r.Lstat(p); return err },
		"Open":          func(p string) error { _, err := r.Open(p); return err },
		"Readlink":      func(p string) error { _, err := r.Readlink(p); return err },
		"EnsureParents": r.EnsureParents,
		"CreateTemp":    func(p string) error { _, err := r.CreateTemp(p); return err },
		"Symlink":       func(p string) error { return r.Symlink("t", p, testTime) },
		"Mkdir":         func(p string) error { return r.Mkdir(p, 0o755) },
		"SetMeta":       func(p string) error { return r.SetMeta(p, 0o644, testTime) },
		"RemoveAll":     r.RemoveAll,
	}
	for name, op := range ops {
		for _, p := range bad {
			err := op(p)
			var pe *PathError
			if !errors.Is(err, wire.ErrBadPath) || !errors.As(err, &pe) {
				t.Errorf("%s(%q) = %v, want a PathError wrapping ErrBadPath", name, p, err)
			}
		}
	}
	if err := r.SyncDir("../x"); !errors.Is(err, wire.ErrBadPath) {
		t.Errorf("SyncDir(../x) = %v", err)
	}
	assertEmpty(t, dir)
}

func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("unexpected entry %s in %s", e.Name(), dir)
	}
}

func TestEnsureParentsReplacesSymlinks(t *testing.T) {
	tests := []struct {
		name   string
		target func(root, outside string) string
	}{
		{"outside", func(_, outside string) string { return outside }},
		{"inside", func(root, _ string) string { return "b" }},
		{"dangling", func(_, _ string) string { return "nowhere" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, dir := newRoot(t)
			outside := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "b"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.target(dir, outside), filepath.Join(dir, "a")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, r, "a/x", "data")
			fi, err := os.Lstat(filepath.Join(dir, "a"))
			if err != nil || !fi.IsDir() {
				t.Fatalf("root/a is %v, %v; want a real directory", fi, err)
			}
			if got := readFile(t, filepath.Join(dir, "a", "x")); got != "data" {
				t.Errorf("a/x = %q", got)
			}
			assertEmpty(t, outside)
			assertEmpty(t, filepath.Join(dir, "b"))
		})
	}
}

func TestEnsureParentsReplacesFile(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "a", "file")
	writeFile(t, r, "a/b/c", "deep")
	if got := readFile(t, filepath.Join(dir, "a", "b", "c")); got != "deep" {
		t.Errorf("a/b/c = %q", got)
	}
}

func TestCommitReplacesDirectory(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "d/sub/f", "x")
	writeFile(t, r, "d", "now a file")
	if got := readFile(t, filepath.Join(dir, "d")); got != "now a file" {
		t.Errorf("d = %q", got)
	}
	if err := r.Mkdir("d", 0o750); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "d"))
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("d after Mkdir: %v, %v", fi, err)
	}
}

func TestCommitSetsModeAndTime(t *testing.T) {
	r, dir := newRoot(t)
	tmp, err := r.CreateTemp("f")
	if err != nil {
		t.Fatal(err)
	}
	if !IsTemp(tmp.Name()) || !strings.HasPrefix(tmp.Name(), wire.TempPrefix) {
		t.Errorf("temp name %q", tmp.Name())
	}
	if _, err := tmp.ReadFrom(strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	mode := wire.FileMode(0o4751)
	if err := tmp.Commit(mode, testTime); err != nil {
		t.Fatal(err)
	}
	tmp.Abort() // must not remove the committed file
	fi, err := os.Lstat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if Perm(fi.Mode()) != mode || !fi.ModTime().Equal(testTime) {
		t.Errorf("f: mode %v mtime %v; want %v %v", fi.Mode(), fi.ModTime(), mode, testTime)
	}
	if _, err := tmp.Write([]byte("x")); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != "hello" {
		t.Errorf("f = %q", got)
	}
}

func TestAbortLeavesOldFile(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "f", "old")
	tmp, err := r.CreateTemp("f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write([]byte("new, partly written")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != "old" {
		t.Errorf("f while writing = %q", got)
	}
	tmp.Abort()
	tmp.Abort()
	if got := readFile(t, filepath.Join(dir, "f")); got != "old" {
		t.Errorf("f after Abort = %q", got)
	}
	if err := tmp.Commit(0o644, testTime); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("root holds %d entries, want 1", len(entries))
	}
}

func TestOpenRefusesNonRegular(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "f", "x")
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"link", "fifo", "d"} {
		if f, err := r.Open(p); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Open(%s) = %v, want ErrNotRegular", p, err)
			if f != nil {
				f.Close()
			}
		}
	}
	f, err := r.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "x" {
		t.Errorf("read %q", b)
	}
	if _, err := r.Open("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
}

func TestErrorHelpers(t *testing.T) {
	err := wrap("write", "a b", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	if !IsNoSpace(err) || IsPermission(err) {
		t.Errorf("ENOSPC: IsNoSpace %v IsPermission %v", IsNoSpace(err), IsPermission(err))
	}
	if got := err.Error(); got != `write "a b": no space left on device` {
		t.Errorf("Error() = %q", got)
	}
	if !IsNoSpace(wrap("w", "p", syscall.EDQUOT)) || !IsPermission(wrap("w", "p", syscall.EACCES)) {
		t.Error("EDQUOT or EACCES not classified")
	}
}

func TestFileModeBits(t *testing.T) {
	for _, bits := range []uint32{0, 0o644, 0o7777, 0o4755, 0o2710, 0o1777} {
		m := wire.FileMode(bits)
		if got := uint32(m.Perm()) | special(m); got != bits {
			t.Errorf("FileMode(%o) = %v, round trip %o", bits, m, got)
		}
		if Perm(m|fs.ModeDir) != m {
			t.Errorf("Perm kept the type bits of %v", m)
		}
	}
}

func special(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// A temp file past writebackEvery has its writeback started on the way
// (advice to the kernel); the content committed is still exactly what was
// written, mixed Write and ReadFrom calls included.
func TestBigTempCommitsExactly(t *testing.T) {
	r, dir := newRoot(t)
	tmp, err := r.CreateTemp("big")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Abort()
	var want bytes.Buffer
	piece := make([]byte, 1<<20+7)
	for i := range 2*writebackEvery/len(piece) + 3 {
		for j := range piece {
			piece[j] = byte(i + j)
		}
		want.Write(piece)
		if i%5 == 4 {
			_, err = tmp.ReadFrom(bytes.NewReader(piece))
		} else {
			_, err = tmp.Write(piece)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if tmp.flushed == 0 || tmp.written != int64(want.Len()) {
		t.Errorf("written %d flushed %d of %d", tmp.written, tmp.flushed, want.Len())
	}
	if err := tmp.Commit(0o644, testTime); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "big"))
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("big: %d bytes, %v; want %d bytes", len(got), err, want.Len())
	}
}

// Info after a commit is what an lstat of the target says, ctime included:
// the replica records it as the file's fingerprint instead of lstat'ing.
func TestTempInfoMatchesLstat(t *testing.T) {
	r, _ := newRoot(t)
	for _, p := range []string{"d/e/f", "d/e/f"} { // a new file, then a replacement
		tmp, err := r.CreateTemp(p)
		if err != nil {
			t.Fatal(err)
		}
		if tmp.Info() != nil {
			t.Fatal("Info before commit")
		}
		if _, err := tmp.Write([]byte("content")); err != nil {
			t.Fatal(err)
		}
		if err := tmp.CommitNoSync(0o640, testTime); err != nil {
			t.Fatal(err)
		}
		got := tmp.Info()
		want, err := r.Lstat(p)
		if err != nil || got == nil {
			t.Fatalf("info %v, lstat %v", got, err)
		}
		gi, gc := fsstat.IDs(got)
		wi, wc := fsstat.IDs(want)
		if got.Size() != want.Size() || !got.ModTime().Equal(want.ModTime()) || got.Mode() != want.Mode() ||
			gi != wi || gc != wc {
			t.Fatalf("%s: info %v %v %v ino %d ctime %d, lstat %v %v %v ino %d ctime %d", p,
				got.Size(), got.ModTime(), got.Mode(), gi, gc, want.Size(), want.ModTime(), want.Mode(), wi, wc)
		}
	}
}

// EnsureParentsLstat makes the parents and describes the path exactly as
// os.Lstat does; nothing there gives a nil info.
func TestEnsureParentsLstat(t *testing.T) {
	r, dir := newRoot(t)
	writeFile(t, r, "a/f", "content")
	if err := os.Chmod(filepath.Join(dir, "a/f"), 0o4751); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "a/l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "a/d"), 0o1755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a/f", "a/l", "a/d"} {
		got, err := r.EnsureParentsLstat(p)
		if err != nil || got == nil {
			t.Fatalf("%s: %v, %v", p, got, err)
		}
		want, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		gi, gc := fsstat.IDs(got)
		wi, wc := fsstat.IDs(want)
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() ||
			!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() || gi != wi || gc != wc || gi == 0 {
			t.Fatalf("%s: got %s %d %v %v ino %d ctime %d, want %s %d %v %v ino %d ctime %d", p,
				got.Name(), got.Size(), got.Mode(), got.ModTime(), gi, gc,
				want.Name(), want.Size(), want.Mode(), want.ModTime(), wi, wc)
		}
	}
	fi, err := r.EnsureParentsLstat("b/c/missing")
	if err != nil || fi != nil {
		t.Fatalf("missing: %v, %v", fi, err)
	}
	if st, err := os.Lstat(filepath.Join(dir, "b/c")); err != nil || !st.IsDir() {
		t.Fatalf("parents not made: %v", err)
	}
	// A symlinked parent is replaced by a directory, as EnsureParents does.
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "s")); err != nil {
		t.Fatal(err)
	}
	if fi, err := r.EnsureParentsLstat("s/x"); err != nil || fi != nil {
		t.Fatalf("under a symlinked parent: %v, %v", fi, err)
	}
	if st, err := os.Lstat(filepath.Join(dir, "s")); err != nil || !st.IsDir() {
		t.Fatalf("symlinked parent not replaced: %v", err)
	}
}

// A Target creates one temp file through the parent it holds open; the
// temp then commits over the target's path.
func TestTargetCreateTemp(t *testing.T) {
	r, dir := newRoot(t)
	tgt, fi, err := r.OpenTarget("x/y/f")
	if err != nil || fi != nil {
		t.Fatalf("open target: %v, %v", fi, err)
	}
	tmp, err := tgt.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.CreateTemp(); err == nil {
		t.Fatal("a second temp from one target")
	}
	tgt.Close() // the temp owns the directory now
	if _, err := tmp.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := tmp.CommitNoSync(0o600, testTime); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "x/y/f")); got != "data" {
		t.Fatalf("content %q", got)
	}
	tgt, fi, err = r.OpenTarget("x/y/f")
	if err != nil || fi == nil || fi.Size() != 4 {
		t.Fatalf("reopen: %v, %v", fi, err)
	}
	tgt.Close()
	tgt.Close() // idempotent
}
