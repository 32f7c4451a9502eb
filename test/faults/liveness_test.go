package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestBrokerStoreLostAsFullScanEnds loses the broker's store at the
// moment the source's initial scan ends: the walk is over and the last,
// big file is still being read. The source is frozen right there (it says
// in its debug log when the walk is done), the broker is killed, its
// store removed and the broker started again, then the source resumes.
// Its last record and the folder meta that would say the state is whole
// find no stream. The source must notice, recreate the stream and
// republish everything, without a restart, and a replica started
// afterwards must converge, a file created afterwards included.
func TestBrokerStoreLostAsFullScanEnds(t *testing.T) {
	t.Parallel()
	const bigSize = 200 << 20
	r := newRig(t, "scan-end-loss")
	harness.Phase(t, "generate", func() {
		for i := range 300 {
			writeFile(t, r.src, fmt.Sprintf("small/%02d/%03d.txt", i%10, i), textBytes(uint64(9000+i), 2000+i*40))
		}
		// Last in the walk: its read is what the scan waits for at its end.
		writeBig(t, filepath.Join(r.src, "zz-big.bin"), 9999, bigSize)
	})

	harness.Phase(t, "freeze the source as its walk ends", func() {
		r.startBroker()
		r.startSource("--log-level", "debug")
		t.Cleanup(func() { _ = r.source.Signal(syscall.SIGCONT) })
		waitLogFast(t, 60*time.Second, r.source, "full scan walked the tree")
		harness.Must(t, r.source.Signal(syscall.SIGSTOP))
		if strings.Contains(fullLog(r.source), "full scan done") {
			t.Logf("warning: the source had finished its scan before it was frozen; the test checked little")
		}
	})

	var resumed time.Time
	harness.Phase(t, "lose the store; the source resumes", func() {
		r.broker.Kill9()
		harness.Must(t, os.RemoveAll(r.store()))
		r.restartBroker()
		harness.Must(t, r.source.Signal(syscall.SIGCONT))
		resumed = time.Now()
	})

	harness.Phase(t, "the source recovers by itself", func() {
		waitLog(t, 60*time.Second, r.source, "the broker lost the whole stream")
		waitLog(t, 60*time.Second, r.source, "full state of the epoch published")
		t.Logf("recovered %s after resuming", time.Since(resumed).Round(time.Millisecond))
		r.startReplica()
		writeFile(t, r.src, "created after the loss.txt", []byte("published after the recovery\n"))
		r.converge()
		t.Logf("replica converged %s after resuming", time.Since(resumed).Round(time.Millisecond))
		t.Logf("the source's recovery:\n%s", harness.GrepLines(fullLog(r.source), "the broker"))
		if n := r.source.Starts(); n != 1 {
			t.Errorf("the source was started %d times; it must recover without a restart", n)
		}
		if n := strings.Count(fullLog(r.source), "publish folder meta failed"); n > 3 {
			t.Errorf("the source tried to publish the folder meta into a missing stream %d times", n)
		}
	})
}

// writeBig writes size incompressible bytes to path, 1 MiB at a time.
func writeBig(t *testing.T, path string, seed uint64, size int) {
	t.Helper()
	f, err := os.Create(path)
	harness.Must(t, err)
	for off := 0; off < size; off += 1 << 20 {
		_, err = f.Write(randomBytes(seed+uint64(off), min(1<<20, size-off)))
		harness.Must(t, err)
	}
	harness.Must(t, f.Close())
}

// waitLogFast is waitLog polling every millisecond, for a moment a test
// must act on at once.
func waitLogFast(t *testing.T, timeout time.Duration, p *harness.Proc, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(fullLog(p), want) {
		if time.Now().After(deadline) {
			harness.FailWithLogs(t, fmt.Sprintf("%s has not logged %q", p.Name(), want))
		}
		if err := harness.CheckAlive(t); err != nil {
			harness.FailWithLogs(t, err.Error())
		}
		time.Sleep(time.Millisecond)
	}
}
