package source

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Chunks of overwritten and deleted files leave the broker; chunks any
// current file needs, renamed ones included, stay.
func TestGarbageCollectionPurgesOnlyUnneededChunks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tree{"a": file(randomBytes(t, 300<<10)), "b": file("keep me")}.create(t, f.root)
	r := f.start(func(c *Config, _ *Source) { c.GCInterval = 200 * time.Millisecond })
	r.waitIdle(t)
	f.converged(10 * time.Second)
	oldA, b := f.record("a").Chunks, f.record("b").Chunks

	must(t, os.WriteFile(filepath.Join(f.root, "a"), []byte(randomBytes(t, 200<<10)), 0o644))
	must(t, os.Rename(filepath.Join(f.root, "b"), filepath.Join(f.root, "c")))
	f.converged(10 * time.Second)
	jstest.Eventually(t, 10*time.Second, func() bool { return !anyChunk(f, oldA) },
		"chunks of the overwritten content were not purged")
	newA := f.record("a").Chunks
	if !allChunks(f, newA) || !allChunks(f, b) {
		t.Fatal("a chunk a current file needs was purged")
	}

	must(t, os.Remove(filepath.Join(f.root, "a")))
	f.converged(10 * time.Second)
	jstest.Eventually(t, 10*time.Second, func() bool { return !anyChunk(f, newA) },
		"chunks of the deleted file were not purged")
	if !allChunks(f, b) {
		t.Fatal("the renamed file's chunk was purged")
	}
	if r.counter(t, "jetsync_source_chunks_purged_total") < float64(len(oldA)+len(newA)) {
		t.Fatal("purged chunks not counted")
	}
	// Content that comes back after its chunks were purged is sent again.
	must(t, os.WriteFile(filepath.Join(f.root, "again"), []byte("keep me"), 0o644))
	must(t, os.Remove(filepath.Join(f.root, "c")))
	f.converged(10 * time.Second)
	time.Sleep(500 * time.Millisecond) // let a collection run
	if !allChunks(f, f.record("again").Chunks) {
		t.Fatal("republished content missing from the broker")
	}
}

func anyChunk(f *fixture, cs []wire.ChunkRef) bool {
	for _, c := range cs {
		if f.hasChunk(c.Hash) {
			return true
		}
	}
	return false
}

func allChunks(f *fixture, cs []wire.ChunkRef) bool {
	for _, c := range cs {
		if !f.hasChunk(c.Hash) {
			return false
		}
	}
	return true
}
