package replica

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// A stream whose latest states disagree about a path's type (a file
// record for docs2 after live records beneath it, which only a broken or
// hostile publisher produces) still converges: each path ends as its
// latest state allows, and the first sync completes instead of failing
// at commit and starting over.
func TestReconcileConvergesOnContradictoryStates(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.record(wire.Record{Path: "docs2/deep", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()})
	pub.inlineFile("docs2/y", []byte("y"), 0o644, mt)
	pub.inlineFile("docs2", []byte("now a file"), 0o644, mt)
	pub.inlineFile("after", []byte("after"), 0o644, mt)

	root := t.TempDir()
	var logs jstest.LogBuffer
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), withLog(&logs))
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool { return r.Progress().Settled }, "first sync completes")
	if strings.Contains(logs.String(), "interrupted") {
		t.Fatalf("the first sync started over:\n%s", logs.String())
	}
	if !fileIs(root, "docs2", []byte("now a file"), 0o644, mt)() || !fileIs(root, "after", []byte("after"), 0o644, mt)() {
		t.Fatal("the latest states were not applied")
	}
	if _, err := os.Lstat(filepath.Join(root, "docs2", "y")); err == nil {
		t.Fatal("a path beneath a file")
	}
	if p := r.Progress(); p.State != "live" {
		t.Fatalf("state %q after the first sync", p.State)
	}
}

// withLog makes a replica log to buf, debug lines included.
func withLog(buf *jstest.LogBuffer) func(*Config) {
	return func(c *Config) { c.Logger = buf.Logger(slog.LevelDebug) }
}
