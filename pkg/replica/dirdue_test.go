package replica

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// TestDirectoryMetaDueSurvivesRestart: a replica killed after committing a
// change but before it set the parent directory's mtime again must still
// set it after a restart. The commit leaves the directory marked due in
// the store; this test creates that state (the mark, and a directory
// whose mtime the change disturbed) and restarts the replica.
func TestDirectoryMetaDueSurvivesRestart(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	root, data := t.TempDir(), t.TempDir()
	mt := time.Unix(1700000000, 5)
	pub.record(wire.Record{Path: "d", Type: wire.Dir, Mode: 0o750, MTime: mt.UnixNano()})
	pub.file("d/f", []byte("content"), 0o644, mt)

	_, stop, _ := startReplica(t, nc, root, data)
	dirIs := func() bool {
		fi, err := os.Lstat(filepath.Join(root, "d"))
		return err == nil && fi.ModTime().Equal(mt) && fi.Mode().Perm() == 0o750
	}
	jstest.Eventually(t, 20*time.Second, dirIs, "d not applied with its mode and mtime")
	stop()

	st, err := openStore(filepath.Join(data, "replica-"+folder+".db"))
	if err != nil {
		t.Fatal(err)
	}
	if due, err := st.dirsDue(); err != nil || len(due) != 0 {
		t.Errorf("directories still due after the replica went idle: %q (%v)", due, err)
	}
	// The state a commit of a change to d/f leaves behind.
	e, err := st.applied("d/f")
	if err != nil || e == nil {
		t.Fatalf("d/f not recorded as applied: %v", err)
	}
	if err := st.record([]change{{rec: &wire.Record{Path: "d/f", Type: wire.File}, entry: e}}); err != nil {
		t.Fatal(err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(root, "d"), time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}

	_, stop, _ = startReplica(t, nc, root, data)
	defer stop()
	jstest.Eventually(t, 20*time.Second, dirIs, "d's mtime not restored after a restart")
}
