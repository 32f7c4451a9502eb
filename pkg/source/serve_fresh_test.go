package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/wire"
)

// A replica may ask for a file's content as soon as its record is on the
// broker, before the source's index has the entry (entries are committed
// in batches after their acks). The content must be served, not called
// "gone": gone means the file changed. Not parallel: it holds back the
// index commits of the whole package while it runs.
func TestContentServedBeforeIndexCommit(t *testing.T) {
	defer func(d time.Duration) { commitInterval = d }(commitInterval)
	commitInterval = time.Hour // only a full batch or a flush writes the index
	f := newFixture(t)
	s := f.manualServing()
	ctx := context.Background()

	data := randomBytes(t, 300<<10)
	must(t, os.WriteFile(filepath.Join(f.root, "new.bin"), []byte(data), 0o644))
	time.Sleep(2 * racyWindow) // so the read does not wait for settling timestamps
	sp, err := chunk.NewSplitter()
	must(t, err)
	s.track.add()
	s.publishFile(ctx, sp, "new.bin")
	must(t, s.track.wait(ctx, nil))
	rec := f.record("new.bin")
	if rec == nil || len(rec.Chunks) == 0 {
		t.Fatalf("record %+v, want a chunked file", rec)
	}
	if e, err := s.ix.Get("new.bin"); err != nil || e != nil {
		t.Fatalf("the index has the entry already (%v, %v): the test proves nothing", e, err)
	}
	for _, c := range rec.Chunks {
		if item, _, err := f.content(wire.ContentChunks, "new.bin", c.Hash); err != nil {
			t.Fatalf("chunk of a just published file: status %d, %v", item.Status, err)
		}
	}
	s.com.flush()
	if e, _ := s.ix.Get("new.bin"); e == nil {
		t.Fatal("no entry after the flush")
	}
	if s.fresh.get("new.bin") != nil {
		t.Error("the published entry is still held after the index has it")
	}
}
