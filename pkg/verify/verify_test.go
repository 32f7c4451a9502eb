package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// sample covers every type, special mode bits, an empty dir, an empty
// file, and names whose byte order differs from path order ("a-c" sorts
// before "a/b" as a string but after it in a walk).
func sample() tree {
	return tree{
		"a/b.txt":        file("hello"),
		"a-c.txt":        file("dash"),
		"a.d/x":          file(""),
		"a/deep/er/f":    fileMode("setuid", 0o755|fs.ModeSetuid),
		"a/g":            fileMode("setgid", 0o750|fs.ModeSetgid),
		"empty":          dir(),
		"tmp":            dirMode(0o777 | fs.ModeSticky),
		"link":           link("a/b.txt"),
		"dangling":       link("../../nowhere"),
		"sp ace/ünï.txt": file("unicode"),
	}
}

func TestVerifyEqual(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "eq")
	root := sample().create(t)
	publishTree(t, js, "eq", root)

	rep := verify(t, js, "eq", root)
	if !rep.Equal || len(rep.Diffs) != 0 {
		t.Fatalf("not equal: %+v", rep.Diffs)
	}
	// 10 listed entries plus the implicit dirs a, a.d, a/deep, a/deep/er, sp ace.
	if rep.Entries != 15 || rep.Files != 6 || rep.Bytes != int64(len("hellodashsetuidsetgidunicode")) {
		t.Errorf("entries/files/bytes = %d/%d/%d", rep.Entries, rep.Files, rep.Bytes)
	}
	if rep.StreamSeq != 15 || rep.Folder != "eq" || rep.Root != root {
		t.Errorf("report header = %+v", rep)
	}
}

func TestVerifyDiffs(t *testing.T) {
	js := newJS(t)
	cases := []struct {
		name   string
		change func(t *testing.T, js jetstream.JetStream, folder, root string)
		want   []Diff // Want/Got are only compared when set here
	}{
		{"content", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			inPlace(t, filepath.Join(root, "a/b.txt"), func(p string) { must(t, os.WriteFile(p, []byte("hellp"), 0)) })
		}, []Diff{{Path: "a/b.txt", Kind: KindContent}}},
		{"size", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			inPlace(t, filepath.Join(root, "a/b.txt"), func(p string) { must(t, os.WriteFile(p, []byte("hello!"), 0)) })
		}, []Diff{{Path: "a/b.txt", Kind: KindSize, Want: "5", Got: "6"}}},
		{"mode", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			must(t, os.Chmod(filepath.Join(root, "a/b.txt"), 0o600))
		}, []Diff{{Path: "a/b.txt", Kind: KindMode, Want: "0644", Got: "0600"}}},
		{"setuid lost", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			must(t, os.Chmod(filepath.Join(root, "a/deep/er/f"), 0o755))
		}, []Diff{{Path: "a/deep/er/f", Kind: KindMode, Want: "4755", Got: "0755"}}},
		{"sticky lost", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			must(t, os.Chmod(filepath.Join(root, "tmp"), 0o777))
		}, []Diff{{Path: "tmp", Kind: KindMode, Want: "1777", Got: "0777"}}},
		{"mtime by one ns", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			setTime(t, filepath.Join(root, "a/b.txt"), baseTime.Add(time.Nanosecond))
		}, []Diff{{Path: "a/b.txt", Kind: KindMTime, Want: "2023-11-14T22:13:20.123456789Z", Got: "2023-11-14T22:13:20.12345679Z"}}},
		{"dir mtime", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			setTime(t, filepath.Join(root, "empty"), baseTime.Add(time.Second))
		}, []Diff{{Path: "empty", Kind: KindMTime}}},
		{"extra file", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			inDir(t, filepath.Join(root, "a"), func() { must(t, os.WriteFile(filepath.Join(root, "a/new"), nil, 0o644)) })
		}, []Diff{{Path: "a/new", Kind: KindExtra, Got: "file"}}},
		{"missing empty dir", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			inDir(t, root, func() { must(t, os.Remove(filepath.Join(root, "empty"))) })
		}, []Diff{{Path: "empty", Kind: KindMissing, Want: "dir"}}},
		{"missing subtree", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			inDir(t, filepath.Join(root, "a"), func() { must(t, os.RemoveAll(filepath.Join(root, "a/deep"))) })
		}, []Diff{{Path: "a/deep", Kind: KindMissing}, {Path: "a/deep/er", Kind: KindMissing}, {Path: "a/deep/er/f", Kind: KindMissing}}},
		{"symlink retarget", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			p := filepath.Join(root, "link")
			inDir(t, root, func() {
				must(t, os.Remove(p))
				must(t, os.Symlink("a-c.txt", p))
			})
			setTime(t, p, baseTime)
		}, []Diff{{Path: "link", Kind: KindTarget, Want: "a/b.txt", Got: "a-c.txt"}}},
		{"symlink mtime", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			setTime(t, filepath.Join(root, "dangling"), baseTime.Add(time.Microsecond))
		}, []Diff{{Path: "dangling", Kind: KindMTime}}},
		{"tombstone for existing path", func(t *testing.T, js jetstream.JetStream, folder, _ string) {
			publish(t, js, folder, &wire.Record{Path: "a-c.txt", Type: wire.Deleted})
		}, []Diff{{Path: "a-c.txt", Kind: KindExtra}}},
		{"file replaced by dir", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			p := filepath.Join(root, "a-c.txt")
			inDir(t, root, func() {
				must(t, os.Remove(p))
				must(t, os.Mkdir(p, 0o755))
			})
		}, []Diff{{Path: "a-c.txt", Kind: KindType, Want: "file", Got: "dir"}}},
		{"dir replaced by file, children gone", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			p := filepath.Join(root, "a.d")
			inDir(t, root, func() {
				must(t, os.RemoveAll(p))
				must(t, os.WriteFile(p, nil, 0o644))
			})
		}, []Diff{{Path: "a.d", Kind: KindType, Want: "dir", Got: "file"}, {Path: "a.d/x", Kind: KindMissing}}},
		{"symlink replaced by file", func(t *testing.T, _ jetstream.JetStream, _, root string) {
			p := filepath.Join(root, "link")
			inDir(t, root, func() {
				must(t, os.Remove(p))
				must(t, os.WriteFile(p, []byte("hello"), 0o644))
			})
		}, []Diff{{Path: "link", Kind: KindType, Want: "symlink", Got: "file"}}},
		{"malformed record", func(t *testing.T, js jetstream.JetStream, folder, _ string) {
			publishRaw(t, js, wire.StateSubject(folder, "junk"), []byte("{not json"))
		}, []Diff{{Path: "jetsync.%s.s." + wire.PathKey("junk"), Kind: KindMalformed}}},
		{"record on another path's subject", func(t *testing.T, js jetstream.JetStream, folder, _ string) {
			b, err := wire.EncodeRecord(&wire.Record{Path: "elsewhere", Type: wire.Dir, Mode: 0o755})
			must(t, err)
			publishRaw(t, js, wire.StateSubject(folder, "junk"), b)
		}, []Diff{{Path: "jetsync.%s.s." + wire.PathKey("junk"), Kind: KindMalformed}}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			folder := fmt.Sprintf("diff%d", i)
			ensureStream(t, js, folder)
			root := sample().create(t)
			publishTree(t, js, folder, root)
			c.change(t, js, folder, root)

			rep := verify(t, js, folder, root)
			if rep.Equal {
				t.Fatal("report says equal")
			}
			checkDiffs(t, rep.Diffs, c.want, folder)
		})
	}
}

func checkDiffs(t *testing.T, got, want []Diff, folder string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("diffs = %+v, want %+v", got, want)
	}
	for i, w := range want {
		g := got[i]
		w.Path = strings.ReplaceAll(w.Path, "%s", folder)
		if g.Path != w.Path || g.Kind != w.Kind || (w.Want != "" && g.Want != w.Want) || (w.Got != "" && g.Got != w.Got) {
			t.Errorf("diff %d = %+v, want %+v", i, g, w)
		}
	}
}

// inPlace changes a file and restores its mtime, so only the change
// under test shows.
func inPlace(t *testing.T, p string, change func(string)) {
	t.Helper()
	change(p)
	setTime(t, p, baseTime)
}

// inDir runs change and then restores the mtime of dir, which adding or
// removing entries moves.
func inDir(t *testing.T, dir string, change func()) {
	t.Helper()
	change()
	setTime(t, dir, baseTime)
}

func TestVerifyIgnoresTempFiles(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "tmp")
	root := sample().create(t)
	publishTree(t, js, "tmp", root)
	inDir(t, filepath.Join(root, "a"), func() {
		must(t, os.WriteFile(filepath.Join(root, "a", wire.TempPrefix+"b.txt.123"), []byte("partial"), 0o600))
		must(t, os.Mkdir(filepath.Join(root, "a", wire.TempPrefix+"dir"), 0o700))
		must(t, os.WriteFile(filepath.Join(root, "a", wire.TempPrefix+"dir", "x"), nil, 0o600))
	})
	// The root's own mode and mtime are not part of the state either.
	must(t, os.Chmod(root, 0o700))
	setTime(t, root, time.Unix(1, 0))

	if rep := verify(t, js, "tmp", root); !rep.Equal {
		t.Fatalf("not equal: %+v", rep.Diffs)
	}
}

func TestVerifyEmptyStream(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "empty")
	root := t.TempDir()
	rep := verify(t, js, "empty", root)
	if !rep.Equal || rep.Entries != 0 || rep.StreamSeq != 0 {
		t.Fatalf("empty stream, empty dir: %+v", rep)
	}
	must(t, os.WriteFile(filepath.Join(root, "stray"), nil, 0o644))
	rep = verify(t, js, "empty", root)
	checkDiffs(t, rep.Diffs, []Diff{{Path: "stray", Kind: KindExtra}}, "empty")
}

func TestVerifyOnlyCachedChunksAndMeta(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "nostate")
	publishRaw(t, js, wire.MetaSubject("nostate"), wire.EncodeMeta(wire.Meta{Epoch: 1}))
	if err := bus.EnsureCache(context.Background(), js, "nostate", 64<<20, 1); err != nil {
		t.Fatal(err)
	}
	publishRaw(t, js, wire.ChunkSubject("nostate", wire.Sum([]byte("x"))), wire.EncodeChunk(nil, []byte("x"), wire.NoCompression))
	if rep := verify(t, js, "nostate", t.TempDir()); !rep.Equal || rep.StreamSeq != 0 {
		t.Fatalf("no state records: %+v", rep)
	}
}

func TestVerifyLatestStateWins(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "latest")
	root := sample().create(t)
	publish(t, js, "latest", &wire.Record{Path: "a/b.txt", Type: wire.Dir, Mode: 0o700})
	publish(t, js, "latest", &wire.Record{Path: "gone", Type: wire.File, Hash: wire.Sum(nil)})
	publishTree(t, js, "latest", root)
	publish(t, js, "latest", &wire.Record{Path: "gone", Type: wire.Deleted})
	if rep := verify(t, js, "latest", root); !rep.Equal {
		t.Fatalf("not equal: %+v", rep.Diffs)
	}
}

func TestVerifyNoFolder(t *testing.T) {
	js := newJS(t)
	_, err := Verify(t.Context(), js, Options{Folder: "nope", Root: t.TempDir()})
	if !errors.Is(err, bus.ErrNoFolder) {
		t.Fatalf("err = %v, want ErrNoFolder", err)
	}
}

func TestVerifyBadRoot(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "r")
	f := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(f, nil, 0o644))
	for _, root := range []string{"", f, filepath.Join(t.TempDir(), "absent")} {
		if _, err := Verify(t.Context(), js, Options{Folder: "r", Root: root}); err == nil {
			t.Errorf("root %q: no error", root)
		}
	}
}

func TestVerifyRootThroughSymlink(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "viasym")
	root := sample().create(t)
	publishTree(t, js, "viasym", root)
	via := filepath.Join(t.TempDir(), "via")
	must(t, os.Symlink(root, via))
	if rep := verify(t, js, "viasym", via); !rep.Equal {
		t.Fatalf("not equal: %+v", rep.Diffs)
	}
}

func TestVerifyTruncates(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "many")
	root := t.TempDir()
	for i := range MaxDiffs + 5 {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("f%04d", i)), nil, 0o644))
	}
	rep := verify(t, js, "many", root)
	if rep.Equal || !rep.Truncated || len(rep.Diffs) != MaxDiffs {
		t.Fatalf("equal=%v truncated=%v diffs=%d", rep.Equal, rep.Truncated, len(rep.Diffs))
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	if !strings.Contains(buf.String(), "DIFFERENT: more than 1000 differences") {
		t.Errorf("summary: %s", lastLine(buf.String()))
	}
}

func TestVerifyRemovesIndex(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	js := newJS(t)
	ensureStream(t, js, "idx")
	root := sample().create(t)
	publishTree(t, js, "idx", root)
	verify(t, js, "idx", root)
	left, err := os.ReadDir(tmp)
	must(t, err)
	if slices.ContainsFunc(left, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), "jetsync-verify-") }) {
		t.Fatalf("index left behind in %s: %v", tmp, left)
	}
}

func TestWriteText(t *testing.T) {
	rep := &Report{Entries: 3, Files: 2, Bytes: 10, StreamSeq: 42, Equal: true}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	if got := buf.String(); got != "equal: 3 entries, 2 files, 10 bytes, at stream seq 42\n" {
		t.Errorf("equal report = %q", got)
	}
	rep = &Report{StreamSeq: 7, Diffs: []Diff{
		{Path: "a/b", Kind: KindMode, Want: "0644", Got: "0600"},
		{Path: "new\nline", Kind: KindExtra, Got: "file"},
		{Path: "d", Kind: KindMissing, Want: "dir"},
	}}
	buf.Reset()
	rep.WriteText(&buf)
	want := "mode a/b (want 0644, got 0600)\n" +
		"extra \"new\\nline\" (got file)\n" +
		"missing d (want dir)\n" +
		"DIFFERENT: 3 differences, at stream seq 7\n"
	if buf.String() != want {
		t.Errorf("report =\n%s\nwant\n%s", buf.String(), want)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
