package source

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

func randomBytes(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInitialScanPublishesTree(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{
		"a/b.txt":             file("hello"),
		"a/empty.txt":         file(""),
		"a/big.bin":           file(randomBytes(t, 1<<20+12345)),
		"a/sub/deep.txt":      file("deep"),
		"emptydir/":           dir(),
		"sticky/":             {mode: fs.ModeSticky | 0o777},
		"setuid":              {data: "x", mode: fs.ModeSetuid | 0o755},
		"link":                link("a/b.txt"),
		"dangling":            link("../nowhere"),
		wire.TempPrefix + "x": file("replica temp file"),
	}.create(t, f.root)
	must(t, syscall.Mkfifo(filepath.Join(f.root, "fifo"), 0o644))
	sock, err := net.Listen("unix", filepath.Join(f.root, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)

	if rec := f.record("a/big.bin"); len(rec.Chunks) < 2 {
		t.Errorf("big file published with %d chunks", len(rec.Chunks))
	}
	if rec := f.record("setuid"); rec.Mode != 0o4755 {
		t.Errorf("setuid mode = %o", rec.Mode)
	}
	if rec := f.record("sticky"); rec.Type != wire.Dir || rec.Mode != 0o1777 {
		t.Errorf("sticky dir = %+v", rec)
	}
	if rec := f.record("emptydir"); rec == nil || rec.Type != wire.Dir {
		t.Errorf("empty dir = %+v", rec)
	}
	for _, p := range []string{wire.TempPrefix + "x", "sock"} {
		if rec := f.record(p); rec != nil {
			t.Errorf("%s published: %+v", p, rec)
		}
	}
	if rec := f.record("fifo"); rec == nil || rec.Type != wire.Fifo || rec.Mode != 0o644 {
		t.Errorf("fifo published as %+v", rec)
	}
	if n := counterValue(t, r.src.metrics.sockets); n < 1 {
		t.Errorf("sockets_skipped_total = %v", n)
	}
	m := f.meta()
	p := r.src.Progress()
	if m.Epoch != 1 || m.Source != r.src.ix.ID() || p.Epoch != 1 {
		t.Errorf("meta = %+v, progress epoch %d", m, p.Epoch)
	}
	// Directories a, a/sub, emptydir, sticky; five files; two symlinks;
	// a FIFO.
	if p.PublishedFiles != 12 || p.ScannedFiles != 5 || p.LastSeq != f.lastSeq() || p.Watched < 5 {
		t.Errorf("progress = %+v", p)
	}
	// Those, and the folder root's own record.
	if n := r.counter(t, "jetsync_source_published_records_total", "folder", f.folder); n != 13 {
		t.Errorf("published_records_total = %v", n)
	}
	// The broker gets small files inline and no other content: the
	// initial sync's replicas pull chunks from the source.
	if n := r.counter(t, "jetsync_source_published_bytes_total"); n == 0 || n > 64<<10 || int64(n) != p.PublishedBytes {
		t.Errorf("published_bytes_total = %v, progress %d", n, p.PublishedBytes)
	}
	if st, err := f.js.Stream(context.Background(), wire.CacheStreamName(f.folder)); err != nil || st.CachedInfo().State.Msgs != 0 {
		t.Errorf("content cache after the initial scan: %v", err)
	}
	checkStatus(t, f)
}

func checkStatus(t *testing.T, f *fixture) {
	t.Helper()
	kv, err := bus.StatusKV(context.Background(), f.js, 1)
	must(t, err)
	var st bus.SourceStatus
	waitFor(t, 5*time.Second, func() bool {
		e, err := kv.Get(context.Background(), bus.SourceKey(f.folder))
		return err == nil && json.Unmarshal(e.Value(), &st) == nil && st.State == StateLive && st.Files == 7
	}, "status entry")
	if st.Dirs != 4 || st.Epoch != 1 || st.LastSeq == 0 || st.Watched == 0 {
		t.Errorf("status = %+v", st)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRestartOverUnchangedTreePublishesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a/b.txt": file("hello"), "c/": dir(), "big": file(randomBytes(t, 300<<10)), "l": link("a")}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)
	r.stop(t)
	seq := f.lastSeq()

	r = f.start()
	r.waitIdle(t)
	p := r.src.Progress()
	if got := f.lastSeq(); got != seq || p.PublishedFiles != 0 || p.PublishedBytes != 0 {
		t.Errorf("restart published: stream seq %d -> %d, progress %+v", seq, got, p)
	}
	if p.LastSeq != seq || p.Epoch != 1 {
		t.Errorf("restart progress = %+v", p)
	}
}

func TestLiveChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{
		"keep.txt":      file("keep"),
		"mod.txt":       file("version 1"),
		"app.txt":       file("line 1\n"),
		"del.txt":       file("bye"),
		"old-name.txt":  file(randomBytes(t, 100<<10)),
		"tree/x/y.txt":  file("y"),
		"tree/z.txt":    file("z"),
		"d2f/child.txt": file("child"),
	}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)

	abs := func(p string) string { return filepath.Join(f.root, p) }
	must(t, os.WriteFile(abs("mod.txt"), []byte("version 2, longer"), 0o644))
	af, err := os.OpenFile(abs("app.txt"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = af.WriteString("line 2\n")
	must(t, err)
	must(t, af.Close())
	must(t, os.Remove(abs("del.txt")))
	must(t, os.Rename(abs("old-name.txt"), abs("new-name.txt")))
	must(t, os.RemoveAll(abs("tree")))
	must(t, os.RemoveAll(abs("d2f")))
	must(t, os.WriteFile(abs("d2f"), []byte("now a file"), 0o644))
	must(t, os.MkdirAll(abs("newdir/sub"), 0o755))
	must(t, os.WriteFile(abs("newdir/sub/f.txt"), []byte("new"), 0o644))
	must(t, os.Chmod(abs("keep.txt"), 0o600))
	must(t, os.Symlink("keep.txt", abs("newlink")))

	f.converged(5 * time.Second)
	for _, p := range []string{"del.txt", "old-name.txt", "tree/x/y.txt", "tree/x", "tree/z.txt", "tree", "d2f/child.txt"} {
		if rec := f.record(p); rec == nil || rec.Type != wire.Deleted {
			t.Errorf("%s not tombstoned: %+v", p, rec)
		}
	}
	// Creates before tombstones, children before parents.
	before(t, f, "new-name.txt", "old-name.txt")
	before(t, f, "tree/x/y.txt", "tree/x")
	before(t, f, "tree/x", "tree")
	before(t, f, "tree/z.txt", "tree")
	if p := r.src.Progress(); p.Errors != 0 {
		t.Errorf("errors: %+v", p)
	}
}

// before checks that a's latest record precedes b's in the stream.
func before(t *testing.T, f *fixture, a, b string) {
	t.Helper()
	if sa, sb := f.seqOf(a), f.seqOf(b); sa >= sb {
		t.Errorf("%s published at %d, not before %s at %d", a, sa, b, sb)
	}
}

// seqOf returns the sequence of p's latest record; "" means the folder meta.
func (f *fixture) seqOf(p string) uint64 {
	f.t.Helper()
	subject := wire.MetaSubject(f.folder)
	if p != "" {
		subject = wire.StateSubject(f.folder, p)
	}
	msg, err := f.stream().GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		f.t.Fatalf("get %s: %v", p, err)
	}
	return msg.Sequence
}

func TestRenameAndCopySendNoChunks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := randomBytes(t, 3<<20)
	tree{"big.bin": file(big)}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)
	sent := r.src.Progress().PublishedBytes
	skipped := r.counter(t, "jetsync_source_chunks_skipped_total")

	must(t, os.MkdirAll(filepath.Join(f.root, "moved"), 0o755))
	must(t, os.Rename(filepath.Join(f.root, "big.bin"), filepath.Join(f.root, "moved", "big.bin")))
	must(t, os.WriteFile(filepath.Join(f.root, "copy.bin"), []byte(big), 0o644))
	f.converged(10 * time.Second)
	r.waitIdle(t)

	if got := r.src.Progress().PublishedBytes; got != sent {
		t.Errorf("rename and copy sent %d chunk bytes", got-sent)
	}
	if got := r.counter(t, "jetsync_source_chunks_skipped_total"); got <= skipped {
		t.Errorf("no chunks skipped (%v)", got)
	}
}

func TestPeriodicScanCoversUnwatchedDirs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a/x.txt": file("1"), "b/y.txt": file("2")}.create(t, f.root)
	r := f.start(func(c *Config, s *Source) {
		c.ScanInterval = 300 * time.Millisecond
		s.watcher = mustWatcher(t, s, 1)
	})
	r.waitIdle(t)
	f.converged(10 * time.Second)
	must(t, os.WriteFile(filepath.Join(f.root, "a", "x.txt"), []byte("changed"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "b", "new.txt"), []byte("new"), 0o644))
	f.converged(10 * time.Second)
	if p := r.src.Progress(); !p.WatchCapped || p.Watched != 1 {
		t.Errorf("progress = %+v", p)
	}
}

// A root given through a symlink to a directory is watched like the
// directory itself: a new file is published at once, not at the next
// periodic scan. The index, kept inside the tree through the same link,
// stays unpublished.
func TestSymlinkedRootIsWatched(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	target := f.root
	tree{"a.txt": file("a"), "d/": dir()}.create(t, target)
	link := filepath.Join(t.TempDir(), "link")
	must(t, os.Symlink(target, link))
	f.root, f.data = link, filepath.Join(link, ".jetsync")
	r := f.start(func(c *Config, _ *Source) { c.ScanInterval = time.Hour })
	r.waitIdle(t)
	if f.record("a.txt") == nil {
		t.Fatal("a.txt not published by the initial scan")
	}

	must(t, os.WriteFile(filepath.Join(link, "d", "new.txt"), []byte("new"), 0o644))
	jstest.Eventually(t, 5*time.Second, func() bool {
		rec := f.record("d/new.txt")
		return rec != nil && rec.Hash == wire.Sum([]byte("new"))
	}, "d/new.txt not published before the periodic scan: %+v", r.src.Progress())
	if rec := f.record(".jetsync/" + filepath.Base(IndexPath(f.data, f.folder))); rec != nil {
		t.Errorf("the index inside the tree was published (%s, %d bytes)", rec.Type, rec.Size)
	}
}

// TestLongChunkListGoesToManifest publishes a file with more chunks than
// a record may list. A short random block repeated makes content-defined
// chunking cut once per repetition: many chunks, few distinct.
func TestLongChunkListGoesToManifest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	data := strings.Repeat(cuttingBlock(t), wire.MaxInlineChunks+100)
	tree{"m.bin": file(data)}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(20 * time.Second)
	rec := f.record("m.bin")
	if len(rec.Manifest) == 0 || len(rec.Chunks) != 0 {
		t.Fatalf("record has %d chunks, %d manifest blobs", len(rec.Chunks), len(rec.Manifest))
	}
	e, err := r.src.ix.Get("m.bin")
	must(t, err)
	if len(e.Chunks) <= wire.MaxInlineChunks || len(e.Manifest) != len(rec.Manifest) {
		t.Errorf("index entry has %d chunks, %d blobs", len(e.Chunks), len(e.Manifest))
	}
}

// cuttingBlock finds a random 17 KiB block in which the chunker finds a
// cut point, so that repeating it gives one chunk per repetition.
func cuttingBlock(t *testing.T) string {
	sp, err := chunk.NewSplitter()
	must(t, err)
	for range 100 {
		block := randomBytes(t, 17<<10)
		n := 0
		_, _, err := sp.Split(strings.NewReader(strings.Repeat(block, 20)), func(wire.Hash, []byte) error { n++; return nil })
		must(t, err)
		if n >= 15 {
			return block
		}
	}
	t.Fatal("no block with a cut point found")
	return ""
}
