package replica

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// A stream whose latest states disagree about a path's type (a file
// record for docs2 after live records beneath it, which only a broken or
// hostile publisher produces) still converges: each path ends as its
// latest state allows, and the first sync completes instead of failing
// at commit and starting over.
func TestReconcileConvergesOnContradictoryStates(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.record(wire.Record{Path: "docs2/deep", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("docs2/y", []byte("y"), 0o644, mt)
	pub.inlineFile("docs2", []byte("now a file"), 0o644, mt)
	pub.inlineFile("after", []byte("after"), 0o644, mt)

	root := t.TempDir()
	var logs jstest.LogBuffer
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), withLog(&logs))
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "first sync completes")
	if strings.Contains(logs.String(), "interrupted") {
		t.Fatalf("the first sync started over:\n%s", logs.String())
	}
	if !fileIs(root, "docs2", []byte("now a file"), 0o644, mt)() || !fileIs(root, "after", []byte("after"), 0o644, mt)() {
		t.Fatal("the latest states were not applied")
	}
	if _, err := os.Lstat(filepath.Join(root, "docs2", "y")); err == nil {
		t.Fatal("a path beneath a file")
	}
	if p := r.Progress(); p.State != "live" {
		t.Fatalf("state %q after the first sync", p.State)
	}
}

// withLog makes a replica log to buf, debug lines included.
func withLog(buf *jstest.LogBuffer) func(*Config) {
	return func(c *Config) { c.Logger = buf.Logger(slog.LevelDebug) }
}

// Garbage on the folder meta subject is rejected and counted once; the
// replica keeps following the stream with the last good meta, and starts
// again with it after a restart.
func TestGarbageMetaKeepsTheLastGoodOne(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.inlineFile("a", []byte("a"), 0o644, mt)
	root, data := t.TempDir(), t.TempDir()
	reg := prometheus.NewRegistry()
	r, stop, _ := startReplica(t, nc, root, data, withRegistry(reg))
	jstest.Eventually(t, 10*time.Second, fileIs(root, "a", []byte("a"), 0o644, mt), "first file")

	pub.pub(wire.MetaSubject(folder), []byte("garbage"))
	pub.inlineFile("b", []byte("b"), 0o644, mt)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "b", []byte("b"), 0o644, mt), "a file after the garbage meta")
	time.Sleep(time.Second) // several position checks read the garbage again
	if got := counter(t, reg, "jetsync_replica_errors_total", "kind", "bad_message"); got != 1 {
		t.Fatalf("bad_message = %v, want the garbage meta counted once", got)
	}
	if p := r.Progress(); p.State != "live" || p.Epoch != 1 || !strings.Contains(p.LastError, "meta") {
		t.Fatalf("progress after a garbage meta: %+v", p)
	}
	stop()

	r, stop, _ = startReplica(t, nc, root, data)
	defer stop()
	pub.inlineFile("c", []byte("c"), 0o644, mt)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "c", []byte("c"), 0o644, mt), "a file after a restart on a garbage meta")
	if p := r.Progress(); p.State != "live" {
		t.Fatalf("restarted on a garbage meta: %+v", p)
	}
}

// A path whose latest state is a message that cannot be read is unknown,
// not absent: a reconcile (here for a new epoch) keeps its local copy,
// while it still removes what the source deleted.
func TestReconcileKeepsPathsWithUnreadableState(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.inlineFile("keep", []byte("the source has it"), 0o644, mt)
	pub.inlineFile("deleted", []byte("x"), 0o644, mt)
	pub.record(wire.Record{Path: "kept-dir", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("kept-dir/f", []byte("f"), 0o644, mt)
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		return fileIs(root, "deleted", []byte("x"), 0o644, mt)() && fileIs(root, "kept-dir/f", []byte("f"), 0o644, mt)() &&
			r.Progress().Settled
	}, "first sync")

	pub.pub(wire.StateSubject(folder, "keep"), []byte("junk"))
	pub.pub(wire.StateSubject(folder, "kept-dir"), []byte(`{"v":3}`))
	pub.record(wire.Record{Path: "deleted", Type: wire.Deleted})
	os.WriteFile(filepath.Join(root, "stray"), []byte("not on the source"), 0o644)
	pub.meta(2)
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "stray"))
		p := r.Progress()
		return os.IsNotExist(err) && p.Settled && p.Epoch == 2
	}, "reconcile for the new epoch done")
	if !fileIs(root, "keep", []byte("the source has it"), 0o644, mt)() || !fileIs(root, "kept-dir/f", []byte("f"), 0o644, mt)() {
		t.Fatal("the reconcile removed paths whose latest state it could not read")
	}
	if _, err := os.Lstat(filepath.Join(root, "deleted")); err == nil {
		t.Fatal("a deleted path survived the reconcile")
	}
}

// A tombstone of a directory takes its subtree with it: the replica says
// so in one line with the number of entries removed, and counts them.
func TestDirectoryTombstoneIsLoggedAndCounted(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.record(wire.Record{Path: "tree", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.record(wire.Record{Path: "tree/sub", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("tree/a", []byte("a"), 0o644, mt)
	pub.inlineFile("tree/sub/b", []byte("b"), 0o644, mt)
	root := t.TempDir()
	var logs jstest.LogBuffer
	reg := prometheus.NewRegistry()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), withLog(&logs), withRegistry(reg))
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "first sync")
	pub.record(wire.Record{Path: "tree", Type: wire.Deleted})
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "tree"))
		return os.IsNotExist(err)
	}, "tree removed")
	line := grepLines(logs.String(), "removed a directory the source deleted")
	if !strings.Contains(line, "path=tree") || !strings.Contains(line, "entries=3") || strings.Count(line, "\n") != 1 {
		t.Fatalf("log of the removal: %q", line)
	}
	if got := gauge(t, reg, "jetsync_replica_removed_tree_entries_total"); got != 4 {
		t.Fatalf("removed tree entries counted %v, want 4", got)
	}
	// The first sync's records are not live changes; the tombstone is.
	jstest.Eventually(t, 5*time.Second, func() bool { return gauge(t, reg, "jetsync_replica_latency_seconds") == 1 },
		"the live change's latency observed once")
}

// grepLines returns the lines of s that contain sub, each ending in a
// newline.
func grepLines(s, sub string) string {
	var out strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}

// A replica reads through one consumer named after it and described, made
// anew at each session: however often it restarts, the stream has one
// consumer per replica.
func TestOneNamedConsumerPerReplica(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	root, data := t.TempDir(), t.TempDir()
	for i := range 5 {
		name := fmt.Sprintf("f%d", i)
		pub.inlineFile(name, []byte(name), 0o644, mt)
		r, stop, _ := startReplica(t, nc, root, data)
		jstest.Eventually(t, 10*time.Second, func() bool { return fileIs(root, name, []byte(name), 0o644, mt)() && r.Progress().Settled },
			"session %d applies", i)
		stop()
	}
	_, stop, _ := startReplica(t, nc, root, data)
	defer stop()
	other, data2 := t.TempDir(), t.TempDir()
	_, stop2, _ := startReplica(t, nc, other, data2, func(c *Config) { c.ID = "nas 3.local" })
	defer stop2()
	stream, err := pub.js.Stream(t.Context(), wire.StreamName(folder))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	jstest.Eventually(t, 10*time.Second, func() bool {
		names = names[:0]
		l := stream.ListConsumers(t.Context())
		for ci := range l.Info() {
			names = append(names, ci.Name+": "+ci.Config.Description)
		}
		return len(names) == 2
	}, "consumers: %v", names)
	sort.Strings(names)
	want := []string{"jetsync-replica-nas_3_local: jetsync replica nas 3.local of folder t", "jetsync-replica-test: jetsync replica test of folder t"}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("consumers:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
}

// A record found malformed only as it is applied (a manifest that does
// not add up to the file's size) leaves its path's state unknown: a first
// sync over a replica seeded with a copy keeps that path's file.
func TestFirstSyncKeepsPathOfBadRecord(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	bad := pub.manifestFile("seeded", make([]byte, 200<<10), mt)
	bad.Size--
	pub.record(bad)
	pub.inlineFile("other", []byte("other"), 0o644, mt)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "seeded"), "copied before the first sync")
	writeFile(t, filepath.Join(root, "stray"), "not on the source")
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "stray"))
		return os.IsNotExist(err) && r.Progress().Settled
	}, "first sync done")
	if b, err := os.ReadFile(filepath.Join(root, "seeded")); err != nil || string(b) != "copied before the first sync" {
		t.Fatalf("the first sync removed or changed a path whose record is bad: %q %v", b, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A record held because its content cannot be had yet (no source answers)
// while a tombstone waits for it (a tombstone runs alone) does not keep
// the replica from noticing that the broker lost its stream: it
// reconciles against the new one and applies what it holds.
func TestHeldRecordDoesNotHideALostStream(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.inlineFile("before", []byte("before"), 0o644, mt)
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "first sync")

	held := newChunkedFile(9, 100<<10)
	pub.record(held.record("held.bin", mt)) // not cached, and no source: held
	pub.record(wire.Record{Path: "before", Type: wire.Deleted})
	// The deletion waits for the held record (it may remove a tree), so
	// the dispatcher takes no more messages: enough of them behind it fill
	// the reader's buffers, and the reader then waits too, without
	// reading the stream. Only the held record's worker can notice.
	for i := range 1000 {
		pub.inlineFile(fmt.Sprintf("behind/%04d", i), []byte("x"), 0o644, mt)
	}
	jstest.Eventually(t, 20*time.Second, func() bool { return r.Progress().State == "waiting-for-source" }, "record held")

	if err := pub.js.DeleteStream(t.Context(), wire.StreamName(folder)); err != nil {
		t.Fatal(err)
	}
	pub = newPublisher(t, nc)
	pub.meta(2)
	pub.inlineFile("after", []byte("after"), 0o644, mt)
	jstest.Eventually(t, 30*time.Second, fileIs(root, "after", []byte("after"), 0o644, mt),
		"the replica follows the new stream: %+v", r.Progress())
}
