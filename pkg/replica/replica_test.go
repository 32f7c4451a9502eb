package replica

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

const folder = "t"

// publisher stands in for a source: it writes records and chunks exactly
// as the wire format says, into a real JetStream stream.
type publisher struct {
	t     testing.TB
	js    jetstream.JetStream
	epoch uint64
}

func newPublisher(t testing.TB, nc *nats.Conn) *publisher {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bus.EnsureStream(context.Background(), js, folder, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureCache(context.Background(), js, folder, 1<<30, 1); err != nil { // holds every test file, the benchmarks' 64 MiB one too
		t.Fatal(err)
	}
	p := &publisher{t: t, js: js, epoch: 1}
	p.meta(1)
	return p
}

func (p *publisher) pub(subj string, data []byte) uint64 {
	p.t.Helper()
	ack, err := p.js.Publish(context.Background(), subj, data)
	if err != nil {
		p.t.Fatal(err)
	}
	return ack.Sequence
}

func (p *publisher) meta(epoch uint64) { p.p(wire.Meta{Epoch: epoch, Source: "test"}) }

func (p *publisher) p(m wire.Meta) {
	p.epoch = m.Epoch
	p.pub(wire.MetaSubject(folder), wire.EncodeMeta(m))
}

func (p *publisher) record(r wire.Record) uint64 {
	p.t.Helper()
	r.Epoch, r.Time = p.epoch, time.Now().UnixNano()
	b, err := wire.EncodeRecord(&r)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.pub(wire.StateSubject(folder, r.Path), b)
}

// file puts content in 64 KiB chunks into the content cache, then
// publishes its record (no source serves content in these tests).
func (p *publisher) file(path string, data []byte, mode uint32, mtime time.Time) {
	var refs []wire.ChunkRef
	for off := 0; off < len(data); off += 64 << 10 {
		c := data[off:min(off+64<<10, len(data))]
		h := wire.Sum(c)
		p.pub(wire.ChunkSubject(folder, h), wire.EncodeChunk(nil, c, wire.SmallCompression))
		refs = append(refs, wire.ChunkRef{Hash: h, Size: uint32(len(c))})
	}
	p.record(wire.Record{Path: path, Type: wire.File, Mode: mode, MTime: mtime.UnixNano(),
		Size: int64(len(data)), Hash: wire.Sum(data), Chunks: refs, Cached: true})
}

// inlineFile publishes a record that carries the content itself, as the
// source does for small files (of at most wire.MaxInlineSize bytes).
func (p *publisher) inlineFile(path string, data []byte, mode uint32, mtime time.Time) {
	p.record(wire.Record{Path: path, Type: wire.File, Mode: mode, MTime: mtime.UnixNano(),
		Size: int64(len(data)), Hash: wire.Sum(data), Data: wire.EncodeChunk(nil, data, wire.SmallCompression)})
}

// startReplica runs a replica of folder on root until the returned stop
// is called; opts change its configuration.
func startReplica(t testing.TB, nc *nats.Conn, root, data string, opts ...func(*Config)) (*Replica, context.CancelFunc, chan error) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Folder: folder, Root: root, DataDir: data, ID: "test", CheckInterval: 200 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := New(cfg, js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica run: %v", err)
		}
	}
	return r, stop, done
}

func fileIs(root, rel string, want []byte, mode os.FileMode, mtime time.Time) func() bool {
	return func() bool {
		p := filepath.Join(root, rel)
		b, err := os.ReadFile(p)
		fi, err2 := os.Lstat(p)
		return err == nil && err2 == nil && string(b) == string(want) && fi.Mode().Perm() == mode &&
			fi.ModTime().Equal(mtime)
	}
}

func TestReplicaAppliesTreeAndResumes(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	root, data := t.TempDir(), t.TempDir()
	mt := time.Unix(1700000000, 123456789)
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i * 31 >> 5)
	}
	pub.record(wire.Record{Path: "d", Type: wire.Dir, Mode: 0o750, MTime: mt.UnixNano()})
	pub.file("d/big.bin", big, 0o640, mt)
	pub.file("d/empty", nil, 0o600, mt)
	pub.record(wire.Record{Path: "link", Type: wire.Symlink, Target: "d/big.bin", MTime: mt.UnixNano()})
	pub.record(wire.Record{Path: "emptydir", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})

	r, stop, _ := startReplica(t, nc, root, data)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "d/big.bin", big, 0o640, mt), "big file applied")
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles")
	if target, err := os.Readlink(filepath.Join(root, "link")); err != nil || target != "d/big.bin" {
		t.Fatalf("symlink: %q %v", target, err)
	}
	for _, d := range []string{"d", "emptydir"} {
		fi, err := os.Stat(filepath.Join(root, d))
		if err != nil || !fi.IsDir() || !fi.ModTime().Equal(mt) {
			t.Fatalf("dir %s: %v %v", d, fi, err)
		}
	}
	stop()

	// A restart of an in-sync replica fetches nothing.
	r, stop, _ = startReplica(t, nc, root, data)
	pub.file("d/new", []byte("new"), 0o644, mt)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "d/new", []byte("new"), 0o644, mt), "new file after restart")
	// The file is visible just before its fetch is counted.
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles after restart")
	if got := r.Progress().Fetched; got != 3 {
		t.Fatalf("restart fetched %d bytes, want only the 3 new ones", got)
	}
	// Deleting a tree.
	pub.record(wire.Record{Path: "d/big.bin", Type: wire.Deleted})
	pub.record(wire.Record{Path: "d/empty", Type: wire.Deleted})
	pub.record(wire.Record{Path: "d/new", Type: wire.Deleted})
	pub.record(wire.Record{Path: "d", Type: wire.Deleted})
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "d"))
		return os.IsNotExist(err)
	}, "tree deleted")
	stop()
}

func TestReplicaRejectsHostileRecords(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644)
	hostile := []string{
		`{"v":1,"path":"../outside/keep","type":"deleted"}`,
		`{"v":1,"path":"/etc/passwd","type":"deleted"}`,
		`not json at all`,
	}
	for i, h := range hostile {
		pub.pub(wire.StateSubject(folder, "h"+string(rune('a'+i))), []byte(h))
	}
	// A valid record on the wrong subject must not be applied either.
	rec, _ := wire.EncodeRecord(&wire.Record{Path: "elsewhere", Type: wire.Dir, Mode: 0o755})
	pub.pub(wire.StateSubject(folder, "other"), rec)
	// A symlinked parent pointing outside must not be followed.
	os.MkdirAll(root, 0o755)
	os.Symlink(outside, filepath.Join(root, "escape"))
	pub.file("escape/planted", []byte("evil"), 0o644, time.Unix(1, 0))
	pub.file("ok", []byte("fine"), 0o644, time.Unix(1, 0))

	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, fileIs(root, "ok", []byte("fine"), 0o644, time.Unix(1, 0)), "valid record after hostile ones")
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Fatalf("file outside the root was touched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("wrote through a symlinked parent")
	}
	if _, err := os.Stat(filepath.Join(root, "elsewhere")); err == nil {
		t.Fatal("applied a record on a subject that is not its path's")
	}
	if r.Progress().Errors < 4 {
		t.Fatalf("errors counted: %d, want at least 4", r.Progress().Errors)
	}
}

// A record of a newer format is not skipped: the replica stops before it
// and says so, rather than lose the change it carries.
func TestReplicaStopsAtNewerRecordVersion(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	pub.file("before", []byte("1"), 0o644, time.Unix(1, 0))
	pub.pub(wire.StateSubject(folder, "future"), []byte(`{"v":99,"path":"future","type":"dir"}`))
	pub.file("after", []byte("2"), 0o644, time.Unix(1, 0))

	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, fileIs(root, "before", []byte("1"), 0o644, time.Unix(1, 0)), "record before the newer one")
	// Two failed attempts: the second re-read the stream from the position.
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Errors >= 2 }, "version error reported twice")
	if p := r.Progress(); !strings.Contains(p.LastError, "upgrade jetsync") || !strings.Contains(p.LastError, "version") {
		t.Fatalf("last error %q does not say to upgrade", p.LastError)
	}
	if _, err := os.Lstat(filepath.Join(root, "after")); err == nil {
		t.Fatal("applied a record that follows one this replica cannot read")
	}
}

func TestReplicaReconcilesOnNewEpoch(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "stray"), []byte("not on the source"), 0o644)
	pub.file("a", []byte("a"), 0o644, time.Unix(5, 0))
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "stray"))
		return os.IsNotExist(err) && r.Progress().Settled
	}, "first sync removes paths the source does not have")

	// Something appears locally, then the source announces a new epoch
	// (it found the broker lost data): the replica reconciles again.
	os.WriteFile(filepath.Join(root, "stray2"), []byte("x"), 0o644)
	pub.meta(2)
	pub.file("b", []byte("b"), 0o644, time.Unix(5, 0))
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "stray2"))
		return os.IsNotExist(err) && fileIs(root, "b", []byte("b"), 0o644, time.Unix(5, 0))()
	}, "new epoch triggers a reconcile")
}

func TestMissedTombstones(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	day := int64(24 * time.Hour)
	cases := []struct {
		caughtUp, ttl int64
		want          bool
	}{
		{now.UnixNano() - 2*day, day, true},
		{now.UnixNano() - day/2, day, false},
		{now.UnixNano() - 100*day, 0, false}, // tombstones kept forever
		{0, day, false},                      // never caught up: the first sync reconciles anyway
	}
	for _, c := range cases {
		if got := missedTombstones(c.caughtUp, c.ttl, now); got != c.want {
			t.Errorf("missedTombstones(%d, %d) = %v", c.caughtUp, c.ttl, got)
		}
	}
}

// While the source is still republishing (meta says Partial), a path
// missing from the stream may just not be republished yet: it must stay
// until the source says the state is whole.
func TestReconcileWaitsForWholeState(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	pub.p(wire.Meta{Epoch: 1, Source: "test", Partial: true})
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "not yet republished"), []byte("x"), 0o644)
	pub.file("a", []byte("a"), 0o644, time.Unix(5, 0))
	r, stop, _ := startReplica(t, nc, root, t.TempDir())
	defer stop()
	jstest.Eventually(t, 10*time.Second, fileIs(root, "a", []byte("a"), 0o644, time.Unix(5, 0)), "records applied while partial")
	time.Sleep(time.Second) // several idle rounds with the meta still partial
	if _, err := os.Lstat(filepath.Join(root, "not yet republished")); err != nil {
		t.Fatalf("deleted a path while the source was still republishing: %v", err)
	}
	if p := r.Progress(); p.Settled || p.State != "reconciling" || !strings.Contains(p.Note, "still publishing its full state") {
		t.Fatalf("progress while the state is partial: %+v", p)
	}
	pub.p(wire.Meta{Epoch: 1, Source: "test"})
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "not yet republished"))
		return os.IsNotExist(err) && r.Progress().Settled
	}, "extra path removed once the state is whole")
	if p := r.Progress(); p.Note != "" {
		t.Fatalf("note left after the reconcile: %q", p.Note)
	}
}
