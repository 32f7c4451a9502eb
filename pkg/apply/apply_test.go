package apply

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/wire"
)

func dirRecord(path string, mode uint32) *wire.Record {
	return &wire.Record{Path: path, Type: wire.Dir, Mode: mode, MTime: testTime.UnixNano()}
}

func linkRecord(path, target string) *wire.Record {
	return &wire.Record{Path: path, Type: wire.Symlink, Target: target, MTime: testTime.UnixNano()}
}

func TestApplyTypeChanges(t *testing.T) {
	a, s, dir := newApplier(t)
	name := filepath.Join(dir, "p")
	file := s.fileRecord("p", []byte("first"))
	steps := []struct {
		rec   *wire.Record
		check func() bool
	}{
		{file, func() bool { return regular(name) }},
		{dirRecord("p", 0o750), func() bool { fi, err := os.Lstat(name); return err == nil && fi.IsDir() }},
		{s.fileRecord("p/child", []byte("c")), func() bool { return regular(filepath.Join(name, "child")) }},
		{linkRecord("p", "/elsewhere"), func() bool { got, _ := os.Readlink(name); return got == "/elsewhere" }},
		{s.fileRecord("p", []byte("again")), func() bool { return regular(name) }},
		{linkRecord("p", "target"), func() bool { got, _ := os.Readlink(name); return got == "target" }},
		{dirRecord("p", 0o700), func() bool { fi, err := os.Lstat(name); return err == nil && fi.IsDir() }},
	}
	for i, st := range steps {
		if res := mustApply(t, a, st.rec); !res.Changed {
			t.Errorf("step %d (%s): Changed false", i, st.rec.Type)
		}
		if !st.check() {
			t.Fatalf("step %d (%s %s): wrong result on disk", i, st.rec.Type, st.rec.Path)
		}
	}
	assertNoTemps(t, dir)
}

func regular(name string) bool {
	fi, err := os.Lstat(name)
	return err == nil && fi.Mode().IsRegular()
}

func TestApplySymlink(t *testing.T) {
	a, _, dir := newApplier(t)
	rec := linkRecord("a/l", "../x")
	mustApply(t, a, rec)
	fi, err := os.Lstat(filepath.Join(dir, "a", "l"))
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || !fi.ModTime().Equal(testTime) {
		t.Fatalf("link %v, %v", fi, err)
	}
	if res := mustApply(t, a, rec); res.Changed {
		t.Error("reapplying an equal symlink changed it")
	}
	later := *rec
	later.MTime = testTime.Add(time.Minute).UnixNano()
	if res := mustApply(t, a, &later); !res.Changed {
		t.Error("mtime change not applied")
	}
	fi, _ = os.Lstat(filepath.Join(dir, "a", "l"))
	if fi.ModTime().UnixNano() != later.MTime {
		t.Errorf("link mtime %v", fi.ModTime())
	}
}

func TestApplyDirAndSetDirMeta(t *testing.T) {
	a, s, dir := newApplier(t)
	d := dirRecord("ro", 0o555)
	mustApply(t, a, d)
	if res := mustApply(t, a, d); res.Changed {
		t.Error("reapplying an equal dir changed it")
	}
	mustApply(t, a, s.fileRecord("ro/f", []byte("x")))
	if err := a.SetDirMeta(d.Path, d.Mode, d.MTime); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "ro"))
	if err != nil || fi.Mode().Perm() != 0o555 || fi.ModTime().UnixNano() != d.MTime {
		t.Errorf("ro: %v, %v", fi, err)
	}
	mustApply(t, a, s.fileRecord("plain", []byte("x")))
	for _, p := range []string{"plain", "missing"} {
		if err := a.SetDirMeta(p, 0o700, d.MTime); err != nil {
			t.Errorf("SetDirMeta(%s) = %v", p, err)
		}
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "plain")); fi.Mode().Perm() != 0o640 {
		t.Errorf("SetDirMeta changed a file to %v", fi.Mode())
	}
}

func TestApplyDeleteTree(t *testing.T) {
	a, s, dir := newApplier(t)
	for _, p := range []string{"t/a/b/c", "t/a/d", "t/e", "keep"} {
		mustApply(t, a, s.fileRecord(p, []byte(p)))
	}
	mustApply(t, a, linkRecord("t/a/l", "/"))
	del := &wire.Record{Path: "t", Type: wire.Deleted}
	if res := mustApply(t, a, del); !res.Changed {
		t.Error("delete reported no change")
	}
	if _, err := os.Lstat(filepath.Join(dir, "t")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("t still there: %v", err)
	}
	if res := mustApply(t, a, del); res.Changed {
		t.Error("deleting a missing path reported a change")
	}
	if readFile(t, dir, "keep") != "keep" {
		t.Error("keep damaged")
	}
}

func TestApplyRejectsBadRecords(t *testing.T) {
	a, s, dir := newApplier(t)
	good := s.fileRecord("f", []byte("x"))
	tests := []struct {
		name string
		rec  wire.Record
		want error
	}{
		{"climbing path", wire.Record{Path: "../f", Type: wire.Deleted}, wire.ErrBadPath},
		{"absolute path", wire.Record{Path: "/etc/passwd", Type: wire.Dir}, wire.ErrBadPath},
		{"NUL", wire.Record{Path: "a\x00b", Type: wire.Symlink, Target: "x"}, wire.ErrBadPath},
		{"unknown type", wire.Record{Path: "f", Type: "socket"}, wire.ErrMalformed},
		{"bad size", func() wire.Record { r := *good; r.Size++; return r }(), wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Apply(context.Background(), &tt.rec); !errors.Is(err, tt.want) {
				t.Errorf("Apply = %v, want %v", err, tt.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("root holds %d entries", len(entries))
	}
}

func TestHashFile(t *testing.T) {
	a, s, _ := newApplier(t)
	data := randomData(3<<20+1, 20)
	mustApply(t, a, s.fileRecord("f", data))
	h, n, err := a.HashFile("f")
	if err != nil || h != wire.Sum(data) || n != int64(len(data)) {
		t.Errorf("HashFile = %s, %d, %v", h, n, err)
	}
	if _, _, err := a.HashFile("../f"); !errors.Is(err, wire.ErrBadPath) {
		t.Errorf("HashFile(../f) = %v", err)
	}
}

func TestApplyConfined(t *testing.T) {
	a, s, dir := newApplier(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("v"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"del", "file", "link", "dir"} {
		if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	mustApply(t, a, &wire.Record{Path: "del/victim", Type: wire.Deleted})
	mustApply(t, a, s.fileRecord("file/victim", []byte("overwritten")))
	mustApply(t, a, linkRecord("link/victim", "x"))
	mustApply(t, a, dirRecord("dir/victim", 0o700))
	entries, err := os.ReadDir(outside)
	if err != nil || len(entries) != 1 || readFile(t, outside, "victim") != "v" {
		t.Errorf("outside dir changed: %v, %v", entries, err)
	}
}

func TestApplyDirUnderSymlinkedParent(t *testing.T) {
	a, _, dir := newApplier(t)
	mustApply(t, a, dirRecord("b/d", 0o755))
	if err := os.Symlink("b", filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	mustApply(t, a, dirRecord("a/d", 0o755))
	fi, err := os.Lstat(filepath.Join(dir, "a", "d"))
	if err != nil || !fi.IsDir() {
		t.Errorf("a/d: %v, %v", fi, err)
	}
}

// TestApplyReportsDirsToSync: every apply that adds, replaces or removes
// a directory entry names the directory, which the caller must sync before
// it counts the change as durable; one that changes nothing names none.
func TestApplyReportsDirsToSync(t *testing.T) {
	a, s, _ := newApplier(t)
	data := []byte("content")
	recs := []struct {
		rec  *wire.Record
		want []string
	}{
		{&wire.Record{Path: "d", Type: wire.Dir, Mode: 0o755}, []string{""}},
		{&wire.Record{Path: "d", Type: wire.Dir, Mode: 0o755}, nil},
		{s.fileRecord("d/f", randomData(100<<10, 3)), []string{"d"}},
		{&wire.Record{Path: "d/small", Type: wire.File, Mode: 0o644, Size: int64(len(data)), Hash: wire.Sum(data),
			Data: wire.EncodeChunk(nil, data, wire.NoCompression)}, []string{"d"}},
		{&wire.Record{Path: "d/l", Type: wire.Symlink, Target: "f"}, []string{"d"}},
		{&wire.Record{Path: "d/f", Type: wire.Deleted}, []string{"d"}},
		{&wire.Record{Path: "d/f", Type: wire.Deleted}, nil},
		{&wire.Record{Path: "d", Type: wire.Deleted}, []string{""}},
	}
	for i, c := range recs {
		res := mustApply(t, a, c.rec)
		if !slices.Equal(res.SyncDirs, c.want) {
			t.Errorf("%d: %s %s: SyncDirs %q, want %q", i, c.rec.Type, c.rec.Path, res.SyncDirs, c.want)
		}
	}
}
