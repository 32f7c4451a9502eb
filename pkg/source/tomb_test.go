package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

// TestTombstonesCoverEntriesAckedInSameStep drives one step by hand: a
// symlink is published inside d, then d is found gone in the same step.
// The tombstones of d's subtree come from the index, so the symlink's
// entry, acknowledged a moment ago, must be in it by then; otherwise its
// record stays live on the broker for ever (found by test/chaos).
func TestTombstonesCoverEntriesAckedInSameStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.manual()
	ctx := context.Background()
	for round := range 5 {
		d := filepath.Join(f.root, "d")
		must(t, os.MkdirAll(d, 0o755))
		must(t, os.Symlink("old", filepath.Join(d, "old")))
		must(t, s.fullScan(ctx)) // d and d/old are published and in the index

		st := &step{}
		must(t, os.Symlink("new", filepath.Join(d, "new")))
		must(t, s.visitPath(ctx, st, "d/new", false)) // published, ack pending
		must(t, os.RemoveAll(d))
		must(t, s.visitPath(ctx, st, "d", false)) // gone: d's subtree is to be tombstoned
		must(t, s.finishStep(ctx, st))
		for _, p := range []string{"d", "d/old", "d/new"} {
			if rec := f.record(p); rec == nil || rec.Type != wire.Deleted {
				t.Fatalf("round %d: %s not tombstoned after its directory was removed: %+v", round, p, rec)
			}
		}
	}
}
