package replica

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/fsroot"
	"github.com/jetsync/jetsync/pkg/wire"
)

// FuzzRecordSequence feeds whole sequences of records, over a few related
// paths, to the replica's scheduler and applier: each sequence is applied
// once in stream order and once in an order the scheduler allows (the
// fuzzer picks which released record a worker finishes next). Two
// released records must never conflict, and both trees must end the same:
// any sequence, however contradictory (a file beneath a file, a directory
// replaced by a symlink, a tombstone of a parent), converges to what
// applying it in order gives.
func FuzzRecordSequence(f *testing.F) {
	f.Add([]byte{0x11, 0x21, 0x02, 0x40, 0x33, 0x00}, []byte{0, 1, 2})
	f.Add([]byte{0x10, 0x20, 0x01, 0x13, 0x52, 0x30}, []byte{3, 1, 0, 2})
	// The shape of a contradictory stream: docs2/deep, docs2/y, then docs2
	// a file.
	f.Add([]byte{0x21, 0x31, 0x00}, []byte{1, 0})
	f.Fuzz(func(t *testing.T, ops, picks []byte) {
		if len(ops) > 24 {
			ops = ops[:24]
		}
		recs := recordsOf(ops)
		inOrder, scheduled := t.TempDir(), t.TempDir()
		applyInOrder(t, inOrder, recs)
		applyScheduled(t, scheduled, recs, picks)
		if a, b := treeOf(t, inOrder), treeOf(t, scheduled); a != b {
			t.Fatalf("records %v\nin order:\n%s\nas scheduled:\n%s", recs, a, b)
		}
	})
}

// seqPaths are the paths a fuzzed sequence names: ancestors, descendants
// and siblings of one another.
var seqPaths = []string{"docs2", "docs2/y", "docs2/deep", "docs2/deep/z", "e", "e/f"}

// recordsOf turns each byte into a record: the low nibble picks the path,
// the high one the type (and for a file, its content).
func recordsOf(ops []byte) []*wire.Record {
	mt := time.Unix(1700000000, 0).UnixNano()
	var recs []*wire.Record
	for i, op := range ops {
		r := &wire.Record{Path: seqPaths[int(op&0x0f)%len(seqPaths)], MTime: mt}
		switch kind := op >> 4; kind % 4 {
		case 0:
			r.Type, r.Mode = wire.Dir, 0o755
		case 1:
			r.Type = wire.Deleted
		case 2:
			r.Type, r.Target, r.Mode = wire.Symlink, fmt.Sprintf("target-%d", kind), 0o777
		default:
			data := []byte(fmt.Sprintf("version %d of %d", kind, i))
			r.Type, r.Mode, r.Size, r.Hash = wire.File, 0o644, int64(len(data)), wire.Sum(data)
			r.Data = wire.EncodeChunk(nil, data, wire.NoCompression)
		}
		recs = append(recs, r)
	}
	return recs
}

func newSeqApplier(t *testing.T, dir string) *apply.Applier {
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &apply.Applier{Root: root}
}

func applySeq(t *testing.T, a *apply.Applier, r *wire.Record) {
	rec := *r // Apply may keep or drop the data
	if _, err := a.Apply(context.Background(), &rec); err != nil {
		t.Fatalf("apply %s %s: %v", r.Type, r.Path, err)
	}
}

func applyInOrder(t *testing.T, dir string, recs []*wire.Record) {
	a := newSeqApplier(t, dir)
	for _, r := range recs {
		applySeq(t, a, r)
	}
}

func applyScheduled(t *testing.T, dir string, recs []*wire.Record, picks []byte) {
	a := newSeqApplier(t, dir)
	s := newScheduler()
	for i, r := range recs {
		s.add(&item{seq: uint64(i + 1), rec: r})
	}
	var running []*item // released, not finished
	for n := 0; n < len(recs); n++ {
		for it := s.take(); it != nil; it = s.take() {
			running = append(running, it)
		}
		if len(running) == 0 {
			t.Fatalf("nothing released with %d of %d records applied", n, len(recs))
		}
		for i, x := range running {
			for _, y := range running[i+1:] {
				if conflict(x, y) {
					t.Fatalf("released together: %d %s %s and %d %s %s", x.seq, x.rec.Type, x.rec.Path, y.seq, y.rec.Type, y.rec.Path)
				}
			}
		}
		k := 0
		if len(picks) > 0 {
			k = int(picks[n%len(picks)]) % len(running)
		}
		it := running[k]
		running = append(running[:k], running[k+1:]...)
		applySeq(t, a, it.rec)
		s.done(it)
	}
}

// conflict is the scheduler's rule spelled out pairwise.
func conflict(x, y *item) bool {
	if x.rec.Path == y.rec.Path {
		return true
	}
	under := func(anc, desc *item) bool {
		return strings.HasPrefix(desc.rec.Path, anc.rec.Path+"/") && anc.rec.Type != wire.Dir
	}
	return under(x, y) || under(y, x)
}

// treeOf lists dir: each path with its type and content or target.
func treeOf(t *testing.T, dir string) string {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			lines = append(lines, rel+" -> "+target)
		case d.IsDir():
			lines = append(lines, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			lines = append(lines, rel+": "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
