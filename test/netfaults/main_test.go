package netfaults

import (
	"flag"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestMain builds the jetsync binary (harness.Main). Unless -parallel is
// given, it runs the four scenario tests at the same time even on a
// two-core machine (go test's default -parallel is GOMAXPROCS): they
// spend their time in sleeps, raft elections and the replica's fsyncs,
// not on the CPU, and one after the other they take about four minutes.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if p := flag.Lookup("test.parallel"); p != nil && !set {
		if n, err := strconv.Atoi(p.Value.String()); err == nil && n < 4 {
			_ = flag.Set("test.parallel", "4")
		}
	}
	os.Exit(harness.Main(m))
}

// keepLogs copies the daemon logs of a test that passed, too, to
// $JETSYNC_E2E_LOGS when NETFAULTS_KEEP_LOGS is set: the timings and
// failovers of a passing run are worth reading. Call it with defer at the
// start of a test, so that it runs before the harness forgets the daemons.
func keepLogs(t *testing.T) {
	if os.Getenv("NETFAULTS_KEEP_LOGS") != "" && !t.Failed() {
		harness.KeepLogs(t)
	}
}

// stacksOnFailure makes procs print their goroutines into their logs
// (SIGQUIT) if the test fails while they run, before the harness stops
// them and keeps the logs: a daemon that stopped making progress shows
// where it waits. Call it after starting procs.
func stacksOnFailure(t *testing.T, procs ...*harness.Proc) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range procs {
			if p.Running() {
				_ = p.Signal(syscall.SIGQUIT)
			}
		}
		time.Sleep(time.Second)
	})
}
