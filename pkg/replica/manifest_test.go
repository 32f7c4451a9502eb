package replica

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// manifestFile puts content in chunks of wire.MinChunkLen into the
// content cache, its list in manifest blobs of at most 64 refs there too,
// and returns the record of a file holding it, for the caller to publish.
func (p *publisher) manifestFile(path string, data []byte, mtime time.Time) wire.Record {
	var refs []wire.ChunkRef
	for off := 0; off < len(data); off += wire.MinChunkLen {
		refs = append(refs, p.cache(data[off:min(off+wire.MinChunkLen, len(data))]))
	}
	rec := wire.Record{Path: path, Type: wire.File, Mode: 0o644, MTime: mtime.UnixNano(),
		Size: int64(len(data)), Hash: wire.Sum(data), Cached: true}
	for i := 0; i < len(refs); i += 64 {
		for _, b := range wire.EncodeManifest(refs[i:min(i+64, len(refs))]) {
			rec.Manifest = append(rec.Manifest, p.cache(b))
		}
	}
	return rec
}

// cache puts one chunk or manifest blob into the content cache.
func (p *publisher) cache(b []byte) wire.ChunkRef {
	h := wire.Sum(b)
	p.pub(wire.ChunkSubject(folder, h), wire.EncodeChunk(nil, b, wire.NoCompression))
	return wire.ChunkRef{Hash: h, Size: uint32(len(b))}
}

// The chunks of a file whose list is in manifest blobs are recorded once
// it is written, so a copy of it is read from it; a record whose blobs
// list more than its size is counted as a bad message and skipped, and
// the records after it are applied.
func TestManifestFileChunksReusedAndBadOnesSkipped(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	root := t.TempDir()
	data := make([]byte, 200*wire.MinChunkLen+123)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(data)
	mtime := time.Unix(1700000000, 0)
	rec := pub.manifestFile("a", data, mtime)
	if len(rec.Manifest) < 4 {
		t.Fatalf("%d blobs", len(rec.Manifest))
	}
	pub.record(rec)

	r, reg, _ := startReplicaWithMetrics(t, nc, root)
	jstest.Eventually(t, 20*time.Second, fileIs(root, "a", data, 0o644, mtime), "manifest file applied")
	// The file is visible just before its chunk locations are recorded.
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles")
	reused := r.Progress().Reused

	cp := rec
	cp.Path = "copy"
	pub.record(cp)
	bad := rec
	bad.Path, bad.Size = "bad", bad.Size-1
	pub.record(bad)
	pub.file("after", []byte("fine"), 0o644, mtime)
	jstest.Eventually(t, 20*time.Second, fileIs(root, "after", []byte("fine"), 0o644, mtime), "record after the bad one")
	jstest.Eventually(t, 20*time.Second, fileIs(root, "copy", data, 0o644, mtime), "copy applied")
	// A file is visible just before what its apply reused is counted.
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "replica settles after the copy")
	if got := r.Progress().Reused - reused; got != int64(len(data)) {
		t.Errorf("copy: %d bytes reused, want all %d", got, len(data))
	}
	if _, err := os.Lstat(filepath.Join(root, "bad")); err == nil {
		t.Error("record with a bad manifest applied")
	}
	if n := counter(t, reg, "jetsync_replica_errors_total", "kind", "bad_message"); n != 1 {
		t.Errorf("%v bad messages counted, want 1", n)
	}
}
