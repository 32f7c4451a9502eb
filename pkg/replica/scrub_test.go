package replica

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/jstest"
)

// The scheduled verify finds a file whose bytes rotted under an unchanged
// size and mtime, and a file that should not exist; it reports them in
// the status and the metrics, keeps the result across a restart, and with
// repair the replica fetches the file again and removes the extra one,
// after which the next verify is equal.
func TestScrubFindsAndRepairs(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	mt := time.Unix(1700000000, 0)
	pub.inlineFile("a.txt", []byte("the original content"), 0o644, mt)
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	pub.file("big.bin", big, 0o644, mt)
	root, data := t.TempDir(), t.TempDir()
	scrubbing := func(repair bool) func(*Config) {
		return func(c *Config) { c.VerifyEvery, c.Repair = 200*time.Millisecond, repair }
	}
	reg := prometheus.NewRegistry()
	r, stop, _ := startReplica(t, nc, root, data, scrubbing(false), withRegistry(reg))
	jstest.Eventually(t, 20*time.Second, func() bool { v := r.Progress().LastVerify; return v.Equal && v.Files == 2 },
		"a verify finds the replica equal")

	// Bit rot: same size, same mtime; and a file nobody published.
	p := filepath.Join(root, "a.txt")
	if err := os.WriteFile(p, []byte("THE original content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "extra"), "not published")
	jstest.Eventually(t, 20*time.Second, func() bool { return r.Progress().LastVerify.Diffs == 2 },
		"a verify finds the rotted and the extra file")
	if v := r.Progress().LastVerify; v.Equal || v.Repairing || len(v.First) != 2 {
		t.Fatalf("verify without repair: %+v", v)
	}
	if gauge(t, reg, "jetsync_replica_verify_last_equal") != 0 || gauge(t, reg, "jetsync_replica_verify_last_diffs") != 2 {
		t.Fatal("the metrics do not show the differences")
	}
	stop()

	r, stop, _ = startReplica(t, nc, root, data, scrubbing(true))
	defer stop()
	if v := r.Progress().LastVerify; v.Diffs != 2 {
		t.Fatalf("last verify after a restart: %+v", v)
	}
	jstest.Eventually(t, 30*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "extra"))
		v := r.Progress().LastVerify
		return fileIs(root, "a.txt", []byte("the original content"), 0o644, mt)() && os.IsNotExist(err) && v.Equal
	}, "repaired, and the next verify equal")
}
