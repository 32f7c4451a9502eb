package apply

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

func TestApplyFile(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 100},
		{"3MiB", 3 << 20},
		{"ragged", 3<<20 + 12345},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s, dir := newApplier(t)
			data := randomData(tt.size, 1)
			rec := s.fileRecord("d/e/f", data)
			res := mustApply(t, a, rec)
			if !res.Changed || res.Fetched != int64(tt.size) || res.Reused != 0 {
				t.Errorf("result %+v", res)
			}
			if !slices.Equal(res.Chunks, rec.Chunks) {
				t.Error("Result.Chunks differ from the record's")
			}
			assertFile(t, dir, rec, data)
			assertNoTemps(t, dir)
		})
	}
}

func assertFile(t testing.TB, dir string, rec *wire.Record, data []byte) {
	t.Helper()
	name := filepath.Join(dir, rec.Path)
	got, err := os.ReadFile(name)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%s: %d bytes, %v; want %d bytes", rec.Path, len(got), err, len(data))
	}
	fi, _ := os.Lstat(name)
	if fsroot.Perm(fi.Mode()) != wire.FileMode(rec.Mode) || fi.ModTime().UnixNano() != rec.MTime {
		t.Errorf("%s: mode %v mtime %v", rec.Path, fi.Mode(), fi.ModTime())
	}
}

func TestApplyManifest(t *testing.T) {
	a, s, dir := newApplier(t)
	data := randomData(3<<20, 2)
	rec := s.fileRecord("big", data)
	chunks := rec.Chunks
	blobs := wire.EncodeManifest(chunks)
	if len(blobs) != 1 {
		t.Fatalf("%d manifest blobs", len(blobs))
	}
	rec.Chunks, rec.Manifest = nil, []wire.ChunkRef{s.put(blobs[0])}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	idx := newLocalIndex()
	a.Placed = idx.placed
	res := mustApply(t, a, rec)
	if want := int64(len(data) + len(blobs[0])); res.Fetched != want || !res.Changed {
		t.Errorf("result Fetched %d Changed %v, want %d", res.Fetched, res.Changed, want)
	}
	if res.Chunks != nil {
		t.Error("Result.Chunks set for a manifest file")
	}
	idx.assertPlaced(t, "big", chunks)
	assertFile(t, dir, rec, data)
	if res := mustApply(t, a, rec); res.Changed || res.Fetched != 0 {
		t.Errorf("second apply %+v", res)
	}
}

func TestApplyManifestMismatch(t *testing.T) {
	a, s, _ := newApplier(t)
	rec := s.fileRecord("f", randomData(200<<10, 3))
	blob := wire.EncodeManifest(rec.Chunks[:2])[0]
	rec.Chunks, rec.Manifest = nil, []wire.ChunkRef{s.put(blob)}
	_, err := a.Apply(context.Background(), rec)
	if !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, ErrBadRecord) {
		t.Errorf("Apply = %v, want ErrMalformed and ErrBadRecord", err)
	}
	rec.Manifest = []wire.ChunkRef{s.put([]byte("not a manifest blob, long enough for one ref"))}
	if _, err := a.Apply(context.Background(), rec); !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, ErrBadRecord) {
		t.Errorf("Apply with garbage manifest = %v, want ErrMalformed and ErrBadRecord", err)
	}
}

func TestApplyFailureKeepsOldFile(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(s *store, c wire.ChunkRef)
		want  error
	}{
		{"corrupt chunk", func(s *store, c wire.ChunkRef) { s.chunks[c.Hash][7] ^= 1 }, wire.ErrCorrupt},
		{"short chunk", func(s *store, c wire.ChunkRef) { s.chunks[c.Hash] = s.chunks[c.Hash][1:] }, wire.ErrCorrupt},
		{"missing chunk", func(s *store, c wire.ChunkRef) { delete(s.chunks, c.Hash) }, ErrChunkMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s, dir := newApplier(t)
			old := randomData(1000, 4)
			oldRec := s.fileRecord("f", old)
			mustApply(t, a, oldRec)
			rec := s.fileRecord("f", randomData(1<<20, 5))
			tt.spoil(s, rec.Chunks[len(rec.Chunks)/2])
			_, err := a.Apply(context.Background(), rec)
			var pe *fsroot.PathError
			if !errors.Is(err, tt.want) || !errors.As(err, &pe) || pe.Path != "f" {
				t.Errorf("Apply = %v, want %v in a PathError for f", err, tt.want)
			}
			assertFile(t, dir, oldRec, old)
			assertNoTemps(t, dir)
		})
	}
}

func TestApplyReusesLocal(t *testing.T) {
	a, s, dir := newApplier(t)
	data := randomData(1<<20+99, 6)
	src := s.fileRecord("src", data)
	mustApply(t, a, src)
	idx := newLocalIndex()
	idx.index(src, src.Chunks, 0)
	a.Local = idx
	s.chunks = map[wire.Hash][]byte{} // everything must come from disk
	dst := *src
	dst.Path = "copy/dst"
	res := mustApply(t, a, &dst)
	if res.Fetched != 0 || res.Reused != int64(len(data)) || !res.Changed {
		t.Errorf("result %+v", res)
	}
	assertFile(t, dir, &dst, data)
}

func TestApplyStaleLocal(t *testing.T) {
	a, s, dir := newApplier(t)
	data := randomData(300<<10, 7)
	rec := s.fileRecord("f", data)
	mustApply(t, a, rec)
	idx := newLocalIndex()
	idx.index(rec, rec.Chunks, 0)
	a.Local = idx
	// Shift the content so every indexed offset now holds other bytes.
	shifted := s.fileRecord("f", append([]byte("x"), data...))
	mustApply(t, a, shifted)
	bad := []chunkLoc{{"../escape", 0}, {"missing", 0}, {"f", -1}, {"f", 1 << 40}}
	for i, b := range bad {
		idx.loc[rec.Chunks[i].Hash] = b
	}
	dst := *rec
	dst.Path = "g"
	res := mustApply(t, a, &dst)
	if res.Fetched != int64(len(data)) || res.Reused != 0 {
		t.Errorf("result %+v", res)
	}
	assertFile(t, dir, &dst, data)
}

func TestApplyUnchangedFile(t *testing.T) {
	a, s, dir := newApplier(t)
	data := randomData(5000, 8)
	rec := s.fileRecord("f", data)
	mustApply(t, a, rec)
	if res := mustApply(t, a, rec); res.Changed || res.Fetched != 0 || res.Reused != 0 {
		t.Errorf("equal file: %+v", res)
	}
	meta := *rec
	meta.Mode, meta.MTime = 0o600, testTime.Add(time.Hour).UnixNano()
	if res := mustApply(t, a, &meta); !res.Changed || res.Fetched != 0 {
		t.Errorf("metadata change: %+v", res)
	}
	assertFile(t, dir, &meta, data)
}

func TestApplyCanceled(t *testing.T) {
	a, s, dir := newApplier(t)
	rec := s.fileRecord("f", randomData(100, 9))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Apply(ctx, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply = %v, want context.Canceled", err)
	}
	assertNoTemps(t, dir)
}

func TestApplyConcurrent(t *testing.T) {
	a, s, dir := newApplier(t)
	var recs []*wire.Record
	var datas [][]byte
	for i := range 12 {
		data := randomData(200<<10+i, uint64(10+i))
		recs = append(recs, s.fileRecord("shared/dir/f"+string(rune('a'+i)), data))
		datas = append(datas, data)
	}
	var wg sync.WaitGroup
	for _, rec := range recs {
		wg.Go(func() {
			if _, err := a.Apply(context.Background(), rec); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, rec := range recs {
		assertFile(t, dir, rec, datas[i])
	}
}

func TestApplyInline(t *testing.T) {
	a, s, dir := newApplier(t)
	old := randomData(1000, 8)
	oldRec := s.fileRecord("f", old)
	mustApply(t, a, oldRec)
	data := []byte("small content that travels in its record")
	rec := &wire.Record{Path: "f", Type: wire.File, Mode: 0o640, MTime: testTime.UnixNano(), Size: int64(len(data)),
		Hash: wire.Sum(data), Data: wire.EncodeChunk(nil, data, wire.SmallCompression)}

	bad := *rec
	bad.Data = wire.EncodeChunk(nil, []byte("other content that travels in its record"), wire.NoCompression)
	if _, err := a.Apply(context.Background(), &bad); !errors.Is(err, wire.ErrCorrupt) {
		t.Fatalf("inline content not matching the hash: %v, want ErrCorrupt", err)
	}
	assertFile(t, dir, oldRec, old)

	res := mustApply(t, a, rec)
	if !res.Changed || res.Fetched != int64(len(data)) || len(res.Chunks) != 1 || res.Chunks[0].Hash != rec.Hash {
		t.Errorf("result %+v", res)
	}
	assertFile(t, dir, rec, data)
	assertNoTemps(t, dir)
}

// A file whose hash the caller knows is compared by that hash, not read:
// a known hash equal to the record's means nothing to write, a different
// one means writing the record's content.
func TestApplyKnownHash(t *testing.T) {
	a, s, dir := newApplier(t)
	data := randomData(5000, 9)
	rec := s.fileRecord("f", data)
	mustApply(t, a, rec)
	// Same size, other bytes, same metadata: only a read would notice.
	other := randomData(5000, 10)
	if err := os.WriteFile(filepath.Join(dir, "f"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "f"), testTime, time.Unix(0, rec.MTime)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "f"), wire.FileMode(rec.Mode)); err != nil {
		t.Fatal(err)
	}
	var asked []string
	known := rec.Hash
	a.Known = func(path string, fi os.FileInfo) (wire.Hash, bool) {
		asked = append(asked, path)
		return known, fi.Size() == int64(len(other))
	}
	if res := mustApply(t, a, rec); res.Changed {
		t.Fatalf("known equal hash: file rewritten (%+v)", res)
	}
	if got := readFile(t, dir, "f"); got != string(other) {
		t.Fatal("known equal hash: content changed")
	}
	known = wire.Sum(other)
	if res := mustApply(t, a, rec); !res.Changed {
		t.Fatalf("known other hash: not rewritten (%+v)", res)
	}
	assertFile(t, dir, rec, data)
	if !slices.Equal(asked, []string{"f", "f"}) {
		t.Fatalf("Known asked for %q", asked)
	}
}
