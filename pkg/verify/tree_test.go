package verify

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// node is one entry of a declarative test tree.
type node struct {
	typ     wire.Type
	content string
	target  string
	mode    fs.FileMode
}

// tree maps slash paths to nodes; parents are created as 0755 dirs when
// not listed.
type tree map[string]node

func file(content string) node              { return node{typ: wire.File, content: content, mode: 0o644} }
func fileMode(c string, m fs.FileMode) node { return node{typ: wire.File, content: c, mode: m} }
func dir() node                             { return node{typ: wire.Dir, mode: 0o755} }
func dirMode(m fs.FileMode) node            { return node{typ: wire.Dir, mode: m} }
func link(target string) node               { return node{typ: wire.Symlink, target: target} }

// baseTime is a timestamp with nanoseconds, so truncation would show.
var baseTime = time.Unix(1700000000, 123456789)

// create builds tr under a fresh temp dir and returns it. Every entry gets
// baseTime as mtime, directories last so creating children does not move
// them.
func (tr tree) create(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for p, n := range tr {
		full := filepath.Join(root, filepath.FromSlash(p))
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		switch n.typ {
		case wire.File:
			must(t, os.WriteFile(full, []byte(n.content), 0o600))
			must(t, os.Chmod(full, n.mode))
		case wire.Dir:
			must(t, os.MkdirAll(full, 0o755))
			must(t, os.Chmod(full, n.mode))
		case wire.Symlink:
			must(t, os.Symlink(n.target, full))
		}
	}
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		if !d.IsDir() {
			setTime(t, p, baseTime)
		}
		return nil
	}))
	setDirTimes(t, root)
	return root
}

// setDirTimes sets every directory beneath root to baseTime, deepest first.
func setDirTimes(t *testing.T, root string) {
	t.Helper()
	var dirs []string
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() && p != root {
			dirs = append(dirs, p)
		}
		return err
	}))
	for i := len(dirs) - 1; i >= 0; i-- {
		setTime(t, dirs[i], baseTime)
	}
}

// setTime sets the mtime of p itself, symlinks included.
func setTime(t *testing.T, p string, mt time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
}

// publishTree publishes a state record for everything under root, as a
// source would, reading modes and times straight from lstat.
func publishTree(t *testing.T, js jetstream.JetStream, folder, root string) {
	t.Helper()
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		if p == root {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		publish(t, js, folder, recordOf(t, p, rel))
		return nil
	}))
}

func recordOf(t *testing.T, p, rel string) *wire.Record {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Lstat(p, &st))
	fi, err := os.Lstat(p)
	must(t, err)
	r := &wire.Record{Path: rel, Mode: uint32(st.Mode) & 0o7777, MTime: fi.ModTime().UnixNano()}
	switch {
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(p)
		must(t, err)
		r.Type, r.Size, r.Hash = wire.File, int64(len(data)), wire.Sum(data)
		if len(data) > 0 {
			r.Chunks = []wire.ChunkRef{{Hash: r.Hash, Size: uint32(len(data))}}
		}
	case fi.IsDir():
		r.Type = wire.Dir
	default:
		r.Type, r.Mode = wire.Symlink, 0
		r.Target, err = os.Readlink(p)
		must(t, err)
	}
	return r
}

func publish(t *testing.T, js jetstream.JetStream, folder string, r *wire.Record) {
	t.Helper()
	b, err := wire.EncodeRecord(r)
	must(t, err)
	publishRaw(t, js, wire.StateSubject(folder, r.Path), b)
}

func publishRaw(t *testing.T, js jetstream.JetStream, subject string, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.Publish(ctx, subject, b)
	must(t, err)
}

// newJS starts a broker shared by the subtests of one test.
func newJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	must(t, err)
	return js
}

func ensureStream(t *testing.T, js jetstream.JetStream, folder string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := bus.EnsureStream(ctx, js, folder, bus.StreamOptions{})
	must(t, err)
}

func verify(t *testing.T, js jetstream.JetStream, folder, root string) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Verify(ctx, js, Options{Folder: folder, Root: root, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
