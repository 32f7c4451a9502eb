package replica

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// These tests put a stand-in for the source's content service on the
// folder's content subject of a real broker: it decides every reply byte
// by byte, so a replica can be shown what a broken, stale or absent source
// sends. Records are version 3 and not cached, and the cache holds none of
// their chunks: the source is the only place the content can come from.

// chunkedFile is a file's content cut into 64 KiB chunks, the way a
// record lists them.
type chunkedFile struct {
	data   []byte
	refs   []wire.ChunkRef
	chunks map[wire.Hash][]byte
}

func newChunkedFile(seed uint64, size int) chunkedFile {
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = rng.Read(data)
	f := chunkedFile{data: data, chunks: make(map[wire.Hash][]byte)}
	for off := 0; off < len(data); off += 64 << 10 {
		c := data[off:min(off+64<<10, len(data))]
		h := wire.Sum(c)
		f.refs = append(f.refs, wire.ChunkRef{Hash: h, Size: uint32(len(c))})
		f.chunks[h] = c
	}
	return f
}

// record is the file's version 3 record, not cached: a replica that does
// not have the chunks must ask the source.
func (f chunkedFile) record(path string, mtime time.Time) wire.Record {
	return wire.Record{Path: path, Type: wire.File, Mode: 0o644, MTime: mtime.UnixNano(),
		Size: int64(len(f.data)), Hash: wire.Sum(f.data), Chunks: f.refs}
}

// okReply is a correct one-item reply carrying data.
func okReply(data []byte) []byte {
	b := wire.AppendContentReplyHeader(nil, 1)
	return wire.AppendContentItem(b, wire.ContentOK, wire.EncodeChunk(nil, data, wire.NoCompression))
}

func statusReply(status byte) []byte {
	return wire.AppendContentItem(wire.AppendContentReplyHeader(nil, 1), status, nil)
}

// standIn answers content requests on the folder's content subject from
// its own connection, as the source's service would, with the replies
// answer returns. It fails the test on a request a replica must never
// send, and counts the requests per hash.
type standIn struct {
	mu    sync.Mutex
	asked map[wire.Hash]int
	sub   *nats.Subscription
}

func serveStandIn(t *testing.T, nc *nats.Conn, answer func(r wire.ContentRequest, n int) []byte) *standIn {
	t.Helper()
	s := &standIn{asked: make(map[wire.Hash]int)}
	sub, err := nc.Subscribe(wire.ContentSubject(folder), func(m *nats.Msg) {
		r, err := wire.DecodeContentRequest(m.Data)
		if err != nil {
			t.Errorf("replica sent a content request that does not decode: %v", err)
			return
		}
		if len(r.Hashes) != 1 || r.Kind != wire.ContentChunks {
			t.Errorf("unexpected request: kind %d, %d hashes", r.Kind, len(r.Hashes))
			return
		}
		s.mu.Lock()
		n := s.asked[r.Hashes[0]]
		s.asked[r.Hashes[0]]++
		s.mu.Unlock()
		if err := m.Respond(answer(r, n)); err != nil {
			t.Errorf("respond: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // subscribed before the replica asks
		t.Fatal(err)
	}
	s.sub = sub
	return s
}

func (s *standIn) count(h wire.Hash) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[h]
}

// startReplicaWithMetrics is startReplica with a registry to read the
// replica's counters from.
func startReplicaWithMetrics(t *testing.T, nc *nats.Conn, root string) (*Replica, *prometheus.Registry, chan error) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := New(Config{Folder: folder, Root: root, DataDir: t.TempDir(), ID: "test",
		CheckInterval: 200 * time.Millisecond, Registry: reg}, js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica run: %v", err)
		}
	})
	return r, reg, done
}

// counter reads one labelled counter of a replica's registry (0 if it was
// never counted).
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// watchPath samples root/rel until the test ends and reports any moment
// it held something other than want: a file whose content was not
// verified must never be visible at its final path.
func watchPath(t *testing.T, root, rel string, want []byte) {
	t.Helper()
	var wrong atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(filepath.Join(root, rel))
			if err == nil && !bytes.Equal(b, want) {
				wrong.CompareAndSwap(nil, len(b))
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		if n := wrong.Load(); n != nil {
			t.Errorf("%s was visible with wrong content (%d bytes)", rel, n)
		}
	})
}

// useSourceAttempts sets how often one chunk is asked of the source
// within one apply, for one test (main_test.go lowers it to 1).
func useSourceAttempts(t *testing.T, n int) {
	old := sourceAttempts
	sourceAttempts = n
	t.Cleanup(func() { sourceAttempts = old })
}

// TestBadContentReplyIsRejectedAndAskedAgain: replies whose bytes do not
// decode, or decode to something other than the hash asked for, are
// rejected, counted and asked again; the file becomes visible only with
// its real content, and the replica goes on replicating.
func TestBadContentReplyIsRejectedAndAskedAgain(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	f := newChunkedFile(1, 200<<10)
	first, second := f.refs[0].Hash, f.refs[1].Hash
	good := okReply(f.chunks[first])

	// Every way a reply can be wrong, for the file's first chunk: the
	// writer waits for that chunk, so no bad reply is lost to a
	// cancelled request, and each is counted once.
	bad := []struct {
		name  string
		reply []byte
	}{
		{"right length, flipped bytes", func() []byte {
			r := bytes.Clone(good)
			for i := len(r) - len(f.chunks[first]); i < len(r); i++ {
				r[i] ^= 0xff
			}
			return r
		}()},
		{"wrong codec byte", func() []byte {
			p := wire.EncodeChunk(nil, f.chunks[first], wire.NoCompression)
			p[1] = wire.CodecZstd
			return wire.AppendContentItem(wire.AppendContentReplyHeader(nil, 1), wire.ContentOK, p)
		}()},
		{"truncated reply", good[:len(good)/2]},
		{"more items than asked", func() []byte {
			p := wire.EncodeChunk(nil, f.chunks[first], wire.NoCompression)
			r := wire.AppendContentReplyHeader(nil, 2)
			r = wire.AppendContentItem(r, wire.ContentOK, p)
			return wire.AppendContentItem(r, wire.ContentOK, p)
		}()},
		{"another chunk's valid payload", okReply(f.chunks[second])},
		{"unknown status", statusReply(9)},
	}
	// Five asks per chunk within one apply, as in production, so the six
	// bad replies take two applies, not six.
	useSourceAttempts(t, 5)
	src := serveStandIn(t, nc, func(r wire.ContentRequest, n int) []byte {
		h := r.Hashes[0]
		if h == first && n < len(bad) {
			return bad[n].reply
		}
		return okReply(f.chunks[h])
	})

	root := t.TempDir()
	watchPath(t, root, "big.bin", f.data)
	mt := time.Unix(1700000000, 0)
	pub.record(f.record("big.bin", mt))
	r, reg, done := startReplicaWithMetrics(t, nc, root)

	jstest.Eventually(t, 60*time.Second, fileIs(root, "big.bin", f.data, 0o644, mt),
		"file applied after bad replies: %+v", r.Progress())
	for _, kind := range []struct{ name, label, value string }{
		{"jetsync_replica_errors_total", "kind", "bad_content"},
		{"jetsync_replica_content_total", "result", "bad_content"},
	} {
		if got := counter(t, reg, kind.name, kind.label, kind.value); got != float64(len(bad)) {
			t.Errorf("%s{%s=%q} = %v, want %d (one per bad reply)", kind.name, kind.label, kind.value, got, len(bad))
		}
	}
	if got := counter(t, reg, "jetsync_replica_content_total", "result", "source_ok"); got < float64(len(f.refs)) {
		t.Errorf("source_ok = %v, want at least one per chunk (%d)", got, len(f.refs))
	}
	// Asked again after each bad reply, and not once more after the good
	// one.
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles")
	if got := src.count(first); got != len(bad)+1 {
		t.Errorf("first chunk asked %d times, want %d (each bad reply, then the good one)", got, len(bad)+1)
	}

	// The replica did not stop: it is still running and applies what
	// comes next, and it does not say it waits for the source.
	select {
	case err := <-done:
		t.Fatalf("replica stopped: %v", err)
	default:
	}
	if p := r.Progress(); p.WaitingFor != "" || p.State == "waiting-for-source" {
		t.Errorf("progress after the content arrived: %+v", p)
	}
	pub.inlineFile("after", []byte("next"), 0o644, mt)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "after", []byte("next"), 0o644, mt), "record after the bad replies")
}

// TestGoneContentGivesWayToNewerRecord: a source that no longer has a
// record's content says "gone". The record is retried while it is the
// path's latest state (the source's newer state may still be on its
// way), and skipped once a newer record of the path is published, which
// is then applied.
func TestGoneContentGivesWayToNewerRecord(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	old, cur := newChunkedFile(2, 200<<10), newChunkedFile(3, 200<<10)
	src := serveStandIn(t, nc, func(r wire.ContentRequest, _ int) []byte {
		if data, ok := cur.chunks[r.Hashes[0]]; ok {
			return okReply(data)
		}
		return statusReply(wire.ContentGone) // old's content changed on the source
	})
	root := t.TempDir()
	watchPath(t, root, "g.bin", cur.data)
	mt := time.Unix(1700000000, 0)
	pub.record(old.record("g.bin", mt))
	r, reg, _ := startReplicaWithMetrics(t, nc, root)

	jstest.Eventually(t, 20*time.Second, func() bool { return src.count(old.refs[0].Hash) >= 2 },
		"the old record is retried after gone: asked %d times", src.count(old.refs[0].Hash))
	if p := r.Progress(); p.WaitingFor != "" || p.State == "waiting-for-source" {
		t.Errorf("a source that answers gone is not waited for: %+v", p)
	}
	if got := counter(t, reg, "jetsync_replica_content_total", "result", "source_gone"); got < 2 {
		t.Errorf("source_gone = %v, want at least 2", got)
	}

	// The record stays the path's latest state until this one: only then
	// may it be dropped, and it must be, or the path would stay behind it.
	pub.record(cur.record("g.bin", mt.Add(time.Second)))
	jstest.Eventually(t, 20*time.Second, fileIs(root, "g.bin", cur.data, 0o644, mt.Add(time.Second)),
		"newer record applied: %+v", r.Progress())
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles")
	asked := src.count(old.refs[0].Hash)
	time.Sleep(time.Second) // longer than the next retry of a record still held
	if got := src.count(old.refs[0].Hash); got != asked {
		t.Errorf("the superseded record is still being retried (asked %d, then %d times)", asked, got)
	}
}

// TestUnansweredContentShowsWaitingForSource: while nobody answers on the
// content subject, the replica keeps the record, says which path waits
// for the source, and applies it as soon as a source answers.
func TestUnansweredContentShowsWaitingForSource(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	f := newChunkedFile(4, 200<<10)
	root := t.TempDir()
	watchPath(t, root, "w.bin", f.data)
	mt := time.Unix(1700000000, 0)
	pub.record(f.record("w.bin", mt))
	r, reg, _ := startReplicaWithMetrics(t, nc, root)

	jstest.Eventually(t, 20*time.Second, func() bool {
		p := r.Progress()
		return p.WaitingFor == "w.bin" && p.State == "waiting-for-source"
	}, "progress shows the path waiting for the source: %+v", r.Progress())
	if got := counter(t, reg, "jetsync_replica_content_total", "result", "source_unreachable"); got < 1 {
		t.Errorf("source_unreachable = %v", got)
	}
	if _, err := os.Lstat(filepath.Join(root, "w.bin")); err == nil {
		t.Fatal("file visible before any content was served")
	}

	serveStandIn(t, jstest.Connect(t, b), func(r wire.ContentRequest, _ int) []byte {
		return okReply(f.chunks[r.Hashes[0]])
	})
	jstest.Eventually(t, 30*time.Second, fileIs(root, "w.bin", f.data, 0o644, mt),
		"file applied once a source answers: %+v", r.Progress())
	jstest.Eventually(t, 10*time.Second, func() bool {
		p := r.Progress()
		return p.WaitingFor == "" && p.State != "waiting-for-source" && p.Settled
	}, "waiting cleared: %+v", r.Progress())
}
