package apply

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

const testChunk = 64 << 10

var testTime = time.Date(2022, 1, 2, 3, 4, 5, 6000, time.UTC)

// store is test content: chunks by hash. It does not verify what it
// returns, so tests can plant corrupt data and watch Apply catch it.
type store struct {
	mu     sync.Mutex
	chunks map[wire.Hash][]byte
}

func newStore() *store { return &store{chunks: map[wire.Hash][]byte{}} }

func (s *store) Chunk(ctx context.Context, w Want) ([]byte, error) {
	h := w.Ref.Hash
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.chunks[h]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", h, ErrChunkMissing)
	}
	return append([]byte(nil), b...), nil
}

func (s *store) put(b []byte) wire.ChunkRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := wire.Sum(b)
	s.chunks[h] = append([]byte(nil), b...)
	return wire.ChunkRef{Hash: h, Size: uint32(len(b))}
}

// fileRecord splits data into fixed chunks, stores them and returns the
// record of a file holding data.
func (s *store) fileRecord(path string, data []byte) *wire.Record {
	rec := &wire.Record{Path: path, Type: wire.File, Mode: 0o640, MTime: testTime.UnixNano(),
		Size: int64(len(data)), Hash: wire.Sum(data)}
	for off := 0; off < len(data); off += testChunk {
		rec.Chunks = append(rec.Chunks, s.put(data[off:min(off+testChunk, len(data))]))
	}
	return rec
}

// localIndex is a reuse index the test fills by hand, or through
// Applier.Placed (while the applier reads it).
type localIndex struct {
	mu  sync.Mutex
	loc map[wire.Hash]chunkLoc
}

type chunkLoc struct {
	path string
	off  int64
}

func newLocalIndex() *localIndex { return &localIndex{loc: map[wire.Hash]chunkLoc{}} }

func (l *localIndex) FindChunk(h wire.Hash) (string, int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	loc, ok := l.loc[h]
	return loc.path, loc.off, ok
}

// index records where the chunks of rec lie in the file at rec.Path,
// the first at off.
func (l *localIndex) index(rec *wire.Record, chunks []wire.ChunkRef, off int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range chunks {
		l.loc[c.Hash] = chunkLoc{rec.Path, off}
		off += int64(c.Size)
	}
}

// placed is Applier.Placed recording into l, as a replica's store does.
func (l *localIndex) placed(path string, off int64, refs []wire.ChunkRef) {
	l.index(&wire.Record{Path: path}, refs, off)
}

// assertPlaced checks that l places every chunk of chunks, which are the
// content of path, at an offset of path that holds it.
func (l *localIndex) assertPlaced(t testing.TB, path string, chunks []wire.ChunkRef) {
	t.Helper()
	at := map[wire.Hash][]int64{}
	var off int64
	for _, c := range chunks {
		at[c.Hash] = append(at[c.Hash], off)
		off += int64(c.Size)
	}
	for _, c := range chunks {
		p, o, ok := l.FindChunk(c.Hash)
		if !ok || p != path || !slices.Contains(at[c.Hash], o) {
			t.Fatalf("chunk %s placed at %q %d (%v), want %q at one of %v", c.Hash, p, o, ok, path, at[c.Hash])
		}
	}
}

func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newApplier(t testing.TB) (*Applier, *store, string) {
	t.Helper()
	dir := t.TempDir()
	r, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s := newStore()
	return &Applier{Root: r, Content: s}, s, dir
}

func mustApply(t testing.TB, a *Applier, rec *wire.Record) Result {
	t.Helper()
	res, err := a.Apply(context.Background(), rec)
	if err != nil {
		t.Fatalf("apply %s %s: %v", rec.Type, rec.Path, err)
	}
	return res
}

func readFile(t testing.TB, dir, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNoTemps fails when a temp file was left behind.
func assertNoTemps(t testing.TB, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && fsroot.IsTemp(d.Name()) {
			t.Errorf("temp file left: %s", p)
		}
		return nil
	})
}
