package verify

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// Paths the folder meta's patterns exclude, and .zfs at the root, are
// compared on neither side, and the summary counts the local ones.
func TestVerifySkipsExcluded(t *testing.T) {
	js := newJS(t)
	ensureStream(t, js, "ex")
	root := sample().create(t)
	publishTree(t, js, "ex", root)
	publishRaw(t, js, wire.MetaSubject("ex"), wire.EncodeMeta(wire.Meta{Epoch: 1, Exclude: []string{"*.tmp", "cache/"}}))
	// Published before it was excluded, and gone here: not missing.
	publish(t, js, "ex", &wire.Record{Path: "a/old.tmp", Type: wire.Symlink, Target: "x"})
	inDir(t, root, func() {
		must(t, os.WriteFile(filepath.Join(root, "x.tmp"), []byte("local"), 0o644))
		must(t, os.MkdirAll(filepath.Join(root, "cache", "sub"), 0o755))
		must(t, os.MkdirAll(filepath.Join(root, ".zfs", "snapshot", "s"), 0o755))
	})
	inDir(t, filepath.Join(root, "a"), func() {
		must(t, os.WriteFile(filepath.Join(root, "a", "y.tmp"), []byte("local"), 0o644))
	})

	rep := verify(t, js, "ex", root)
	if !rep.Equal {
		t.Fatalf("not equal: %+v", rep.Diffs)
	}
	if rep.Excluded != 4 || len(rep.Exclude) != 2 {
		t.Errorf("excluded %d local paths with patterns %q, want 4 with 2", rep.Excluded, rep.Exclude)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	if !strings.Contains(buf.String(), "excluded: 4 local paths skipped") {
		t.Errorf("summary does not count the excluded paths:\n%s", buf.String())
	}

	// Without the patterns, the same tree differs.
	publishRaw(t, js, wire.MetaSubject("ex"), wire.EncodeMeta(wire.Meta{Epoch: 1}))
	if rep := verify(t, js, "ex", root); rep.Equal || rep.Excluded != 1 {
		t.Errorf("without patterns: equal %v, %d excluded (.zfs only)", rep.Equal, rep.Excluded)
	}
}
