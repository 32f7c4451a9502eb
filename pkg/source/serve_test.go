package source

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// TestContentServiceServesOnlyPublishedContent: the service answers with
// the content the index lists for the path asked about, read from that
// file, and nothing else: not another file's chunk, not content the file
// no longer holds, not a file outside the tree reached through a symlink.
func TestContentServiceServesOnlyPublishedContent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	outside := t.TempDir()
	secret := randomBytes(t, 100<<10)
	must(t, os.WriteFile(filepath.Join(outside, "secret.bin"), []byte(secret), 0o644))
	x, e, many := randomBytes(t, 300<<10), randomBytes(t, 300<<10), randomBytes(t, 3<<20)
	tree{
		"x.bin":    file(x),
		"y.bin":    file(randomBytes(t, 200<<10)),
		"e.bin":    file(e),
		"many.bin": file(many),
		"d/":       dir(),
		"lnk":      link(filepath.Join(outside, "secret.bin")),
		"dlnk":     link(outside),
	}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	// converged asks the service for every chunk of every published file,
	// and for the manifest blobs of a file that has them, and checks each
	// against its hash (TestLongChunkListGoesToManifest does so for a file
	// of more than 1024 chunks).
	f.converged(20 * time.Second)
	c := newContentClient(f)
	before := r.servedCounts(t)

	// Chunk by chunk, then all in one request: each verifies, in
	// order, and together they are the file.
	rx := f.record("x.bin")
	if len(rx.Chunks) < 2 {
		t.Fatalf("x.bin published with %d chunks", len(rx.Chunks))
	}
	var one, all []byte
	for _, ref := range rx.Chunks {
		it := c.mustAsk(t, wire.ContentChunks, "x.bin", ref.Hash)[0]
		data, err := wire.DecodeChunk(nil, it.Payload, ref.Hash)
		if it.Status != wire.ContentOK || err != nil {
			t.Fatalf("chunk %s of x.bin: status %d, %v", ref.Hash, it.Status, err)
		}
		one = append(one, data...)
	}
	for i, it := range c.mustAsk(t, wire.ContentChunks, "x.bin", hashes(rx.Chunks)...) {
		data, err := wire.DecodeChunk(nil, it.Payload, rx.Chunks[i].Hash)
		if it.Status != wire.ContentOK || err != nil {
			t.Fatalf("item %d of a request for all of x.bin: status %d, %v", i, it.Status, err)
		}
		all = append(all, data...)
	}
	if string(one) != x || string(all) != x {
		t.Fatalf("served chunks of x.bin make %d and %d bytes, not the file", len(one), len(all))
	}

	// A real chunk of x.bin asked under any other path, or as a
	// manifest blob, is not served.
	h := rx.Chunks[0].Hash
	for _, p := range []string{"y.bin", "e.bin", "d", "lnk", "nope", "x.bin/below"} {
		c.expectGone(t, wire.ContentChunks, p, h)
	}
	c.expectGone(t, wire.ContentManifest, "x.bin", h)

	// A symlink in the tree to a file or directory outside it does
	// not serve the outside file's content.
	if rec := f.record("lnk"); rec == nil || rec.Type != wire.Symlink {
		t.Fatalf("lnk published as %+v, want a symlink", rec)
	}
	outsideHashes := append(chunkHashes(t, secret), wire.Sum([]byte(secret)))
	for _, p := range []string{"lnk", "dlnk", "dlnk/secret.bin"} {
		c.expectGone(t, wire.ContentChunks, p, outsideHashes...)
		c.expectGone(t, wire.ContentManifest, p, outsideHashes...)
	}

	// The file changes on disk. From before the write until the new
	// state is published, the old chunks are asked for without pause:
	// each answer is the old content, verified, or "gone", never other
	// bytes and never an error. Once republished, they are gone.
	re := f.record("e.bin")
	oldE := hashes(re.Chunks)
	var rounds atomic.Int64
	var problem atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			items, _, err := c.ask(wire.ContentChunks, "e.bin", 1<<20, oldE...)
			if err != nil {
				problem.CompareAndSwap(nil, "request: "+err.Error())
				return
			}
			for i, it := range items {
				switch it.Status {
				case wire.ContentGone:
				case wire.ContentOK:
					if _, err := wire.DecodeChunk(nil, it.Payload, oldE[i]); err != nil {
						problem.CompareAndSwap(nil, "served bytes that are not the chunk asked for: "+err.Error())
					}
				default:
					problem.CompareAndSwap(nil, "status "+statusName[it.Status]+" for a reply that fits")
				}
			}
			rounds.Add(1)
		}
	})
	for rounds.Load() == 0 && problem.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	newE := randomBytes(t, len(e))
	must(t, os.WriteFile(filepath.Join(f.root, "e.bin"), []byte(newE), 0o644))
	jstest.Eventually(t, 20*time.Second, func() bool {
		rec := f.record("e.bin")
		return rec != nil && rec.Hash == wire.Sum([]byte(newE))
	}, "e.bin republished")
	close(stop)
	wg.Wait()
	if p := problem.Load(); p != nil {
		t.Fatalf("while e.bin changed: %v", p)
	}
	// (That the new content is served as soon as its record is published
	// is TestContentIsServedAsSoonAsItsRecordIsPublished.)
	c.expectGone(t, wire.ContentChunks, "e.bin", oldE...)

	// More than fits one reply: a prefix is served, the rest is
	// "later" (never "gone"), and asking again for the rest gets it all.
	rm := f.record("many.bin")
	pending := hashes(rm.Chunks)[:min(len(rm.Chunks), wire.MaxContentHashes)]
	if len(pending) < 32 {
		t.Fatalf("many.bin has only %d chunks", len(rm.Chunks))
	}
	var served []byte
	for round := 0; len(pending) > 0; round++ {
		items, size, err := c.ask(wire.ContentChunks, "many.bin", wire.MinContentReply, pending...)
		if err != nil {
			t.Fatal(err)
		}
		if size > wire.MinContentReply {
			t.Errorf("round %d: reply of %d bytes for a limit of %d", round, size, wire.MinContentReply)
		}
		ok := 0
		for ok < len(items) && items[ok].Status == wire.ContentOK {
			data, err := wire.DecodeChunk(nil, items[ok].Payload, pending[ok])
			if err != nil {
				t.Fatal(err)
			}
			served = append(served, data...)
			ok++
		}
		for i, it := range items[ok:] {
			if it.Status != wire.ContentLater {
				t.Fatalf("round %d: item %d after %d served has status %d, want later", round, ok+i, ok, it.Status)
			}
		}
		if ok == 0 || (round == 0 && ok == len(items)) {
			t.Fatalf("round %d: %d of %d served; want a non-empty prefix, and not all of 3 MiB at first", round, ok, len(items))
		}
		pending = pending[ok:]
	}
	if !strings.HasPrefix(many, string(served)) || len(served) == 0 {
		t.Fatal("the chunks served in turn are not the start of many.bin")
	}
	if c.count("later") == 0 {
		t.Fatal("no reply said later")
	}

	checkServedCounts(t, r, before, c)
	if n := r.counter(t, "jetsync_source_content_served_bytes_total"); n == 0 {
		t.Error("content_served_bytes_total is 0")
	}
}

// TestContentServiceRejectsHostileRequests: a request that does not
// decode, names a path that is not a clean path inside the tree, or
// breaks the request's bounds gets a micro error (code 400) and no
// content, and the service goes on answering.
func TestContentServiceRejectsHostileRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	x := randomBytes(t, 100<<10)
	tree{"x.bin": file(x), "sub/y.bin": file(randomBytes(t, 100<<10))}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)
	c := newContentClient(f)
	before := r.servedCounts(t)
	h := f.record("x.bin").Chunks[0].Hash
	const limit = 1 << 20

	garbage := []byte(randomBytes(t, 300))
	garbage[0] = 0xfe // not the version: it cannot decode by chance
	tooMany := make([]wire.Hash, wire.MaxContentHashes+1)
	for i := range tooMany {
		tooMany[i] = h
	}
	hostile := []struct {
		name string
		req  []byte
	}{
		{"parent of the root", rawRequest(1, wire.ContentChunks, "../x", limit, 1, h)},
		{"climbs out through a directory", rawRequest(1, wire.ContentChunks, "sub/../../x.bin", limit, 1, h)},
		{"dot component", rawRequest(1, wire.ContentChunks, "./x.bin", limit, 1, h)},
		{"absolute", rawRequest(1, wire.ContentChunks, "/etc/passwd", limit, 1, h)},
		{"NUL in the path", rawRequest(1, wire.ContentChunks, "x.bin\x00/../../etc/passwd", limit, 1, h)},
		{"empty path", rawRequest(1, wire.ContentChunks, "", limit, 1, h)},
		{"trailing slash", rawRequest(1, wire.ContentChunks, "sub/", limit, 1, h)},
		{"unknown kind", rawRequest(1, 7, "x.bin", limit, 1, h)},
		{"newer version", rawRequest(2, wire.ContentChunks, "x.bin", limit, 1, h)},
		{"limit below the minimum", rawRequest(1, wire.ContentChunks, "x.bin", wire.MinContentReply-1, 1, h)},
		{"no hashes", rawRequest(1, wire.ContentChunks, "x.bin", limit, 0)},
		{"more hashes than allowed", rawRequest(1, wire.ContentChunks, "x.bin", limit, uint64(len(tooMany)), tooMany...)},
		{"fewer hashes than counted", rawRequest(1, wire.ContentChunks, "x.bin", limit, 2, h)},
		{"trailing bytes", append(rawRequest(1, wire.ContentChunks, "x.bin", limit, 1, h), 0)},
		{"path longer than the message", append([]byte{1, 0}, binary.AppendUvarint(nil, 4000)...)},
		{"path length over the maximum", append([]byte{1, 0}, binary.AppendUvarint(nil, 1<<40)...)},
		{"empty", nil},
		{"text", []byte("GET /etc/passwd HTTP/1.1\r\n\r\n")},
		{"garbage", garbage},
	}
	for _, hr := range hostile {
		if _, err := wire.DecodeContentRequest(hr.req); err == nil {
			t.Fatalf("%s: the test's request is valid", hr.name)
		}
		msg, err := c.raw(hr.req)
		if err != nil {
			t.Fatalf("%s: no answer: %v", hr.name, err)
		}
		if code := msg.Header.Get(micro.ErrorCodeHeader); code != "400" {
			t.Errorf("%s: error code %q, want 400 (reply of %d bytes)", hr.name, code, len(msg.Data))
		}
		if len(msg.Data) != 0 {
			t.Errorf("%s: the error reply carries %d bytes", hr.name, len(msg.Data))
		}
		// The service still answers, on whichever of its endpoints.
		it := c.mustAsk(t, wire.ContentChunks, "x.bin", h)[0]
		if _, err := wire.DecodeChunk(nil, it.Payload, h); it.Status != wire.ContentOK || err != nil {
			t.Fatalf("after %s: status %d, %v", hr.name, it.Status, err)
		}
	}
	// Many at once, more than it has endpoints, then a valid request.
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if msg, err := c.raw(garbage); err != nil || msg.Header.Get(micro.ErrorCodeHeader) != "400" {
				t.Errorf("garbage in a burst: %v", err)
			}
		})
	}
	wg.Wait()
	it := c.mustAsk(t, wire.ContentChunks, "x.bin", h)[0]
	if _, err := wire.DecodeChunk(nil, it.Payload, h); it.Status != wire.ContentOK || err != nil {
		t.Fatalf("after a burst of garbage: status %d, %v", it.Status, err)
	}
	if got := c.count("bad_request"); got != len(hostile)+32 {
		t.Fatalf("client saw %d bad_request replies, want %d", got, len(hostile)+32)
	}
	checkServedCounts(t, r, before, c)
}

// TestChangedFileIsGoneBeforeRepublish: a published file changed on disk
// before the source noticed (here: nothing watches the tree) is answered
// "gone" for the content it no longer holds, whatever it became: other
// bytes, shorter, removed, a directory, a FIFO, or a symlink out of the
// tree to a file with the very content published. Each answer comes at
// once.
func TestChangedFileIsGoneBeforeRepublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	outside := t.TempDir()
	names := []string{"rewritten", "truncated", "removed", "now-dir", "now-link", "now-fifo"}
	content := make(map[string]string)
	tr := tree{}
	for _, n := range names {
		content[n] = randomBytes(t, 200<<10)
		tr[n] = file(content[n])
	}
	tr.create(t, f.root)
	// Files read within racyWindow of their last change are pinned (a
	// later write could hide in the same timestamp tick), and a pin keeps
	// serving the version read: this test is about files read settled.
	time.Sleep(3 * racyWindow)
	s := f.manualServing()
	c := newContentClient(f)
	refs := make(map[string][]wire.ChunkRef)
	for _, n := range names {
		rec := f.record(n)
		if rec == nil || len(rec.Chunks) < 2 {
			t.Fatalf("%s published as %+v", n, rec)
		}
		refs[n] = rec.Chunks
		for i, it := range c.mustAsk(t, wire.ContentChunks, n, hashes(rec.Chunks)...) {
			if _, err := wire.DecodeChunk(nil, it.Payload, rec.Chunks[i].Hash); it.Status != wire.ContentOK || err != nil {
				t.Fatalf("%s before the change: chunk %d status %d, %v", n, i, it.Status, err)
			}
		}
	}

	abs := func(n string) string { return filepath.Join(f.root, n) }
	must(t, os.WriteFile(abs("rewritten"), []byte(randomBytes(t, 200<<10)), 0o644))
	half := int64(len(content["truncated"]) / 2)
	must(t, os.Truncate(abs("truncated"), half))
	must(t, os.Remove(abs("removed")))
	must(t, os.Remove(abs("now-dir")))
	must(t, os.Mkdir(abs("now-dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "copy"), []byte(content["now-link"]), 0o644))
	must(t, os.Remove(abs("now-link")))
	must(t, os.Symlink(filepath.Join(outside, "copy"), abs("now-link")))
	must(t, os.Remove(abs("now-fifo")))
	must(t, syscall.Mkfifo(abs("now-fifo"), 0o644))
	// A reader blocked opening the FIFO is let go at the end, so the
	// service can stop.
	t.Cleanup(func() {
		if w, err := os.OpenFile(abs("now-fifo"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})

	gone := counterValue(t, s.metrics.served.WithLabelValues("gone"))
	wantGone := 0
	for _, n := range names { // the FIFO last: a stuck endpoint must not fail the others
		hs := hashes(refs[n])
		start := time.Now()
		items, _, err := c.ask(wire.ContentChunks, n, 1<<20, hs...)
		if err != nil {
			t.Errorf("%s: %v (after %s)", n, err, time.Since(start).Round(time.Millisecond))
			continue
		}
		var off int64
		for i, it := range items {
			end := off + int64(refs[n][i].Size)
			// Only the chunks wholly in what is left of the truncated
			// file are still its published content.
			still := n == "truncated" && end <= half
			off = end
			switch {
			case still && it.Status == wire.ContentOK:
				if _, err := wire.DecodeChunk(nil, it.Payload, hs[i]); err != nil {
					t.Errorf("%s chunk %d: %v", n, i, err)
				}
			case !still && it.Status == wire.ContentGone:
				wantGone++
			default:
				t.Errorf("%s chunk %d (bytes up to %d): status %d", n, i, end, it.Status)
			}
		}
	}
	if got := counterValue(t, s.metrics.served.WithLabelValues("gone")) - gone; got != wantGone {
		t.Errorf("content_served_total{status=gone} grew by %d, want %d", got, wantGone)
	}
}
