package source

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/bus"
)

// tcpBroker is a broker on a fixed loopback port with its store in dir,
// so a test can stop it, tamper with the store and start it again while
// the source reconnects over TCP.
type tcpBroker struct {
	t    *testing.T
	b    *broker.Broker
	dir  string
	addr string
}

func (tb *tcpBroker) store() string { return filepath.Join(tb.dir, "jetstream") }

func (tb *tcpBroker) stop() { tb.b.Shutdown() }

func (tb *tcpBroker) start() { tb.b = startBrokerAt(tb.t, tb.dir, tb.addr) }

func tcpFixture(t *testing.T) (*fixture, *tcpBroker) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	tb := &tcpBroker{t: t, dir: t.TempDir(), addr: ln.Addr().String()}
	must(t, ln.Close())
	tb.start()
	nc, _, err := bus.Connect(bus.ConnectOptions{URL: tb.b.ClientURL(), Name: "source-test", KeepTrying: true, Logger: testLogger(t)})
	must(t, err)
	t.Cleanup(nc.Close)
	return newFixtureOn(t, nc), tb
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	must(t, os.RemoveAll(to))
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}

func TestBrokerLostTail(t *testing.T) {
	t.Parallel()
	f, tb := tcpFixture(t)
	tree{"a/one.txt": file("one"), "a/two.txt": file("two"), "gone.txt": file("gone"),
		"big": file(randomBytes(t, 400<<10))}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)

	// Snapshot the store, then let the source publish more.
	tb.stop()
	backup := filepath.Join(t.TempDir(), "jetstream")
	copyDir(t, tb.store(), backup)
	tb.start()
	waitFor(t, 15*time.Second, f.nc.IsConnected, "reconnect")
	abs := func(p string) string { return filepath.Join(f.root, p) }
	must(t, os.WriteFile(abs("a/one.txt"), []byte("one, version 2"), 0o644))
	must(t, os.WriteFile(abs("a/three.txt"), []byte("three"), 0o644))
	must(t, os.WriteFile(abs("big2"), []byte(randomBytes(t, 300<<10)), 0o644))
	must(t, os.Remove(abs("gone.txt")))
	f.converged(10 * time.Second)
	r.waitIdle(t)

	// The broker comes back without what it acknowledged since the copy.
	// The source may republish before a check of the stream's last
	// sequence could see it short: the new epoch is the proof.
	tb.stop()
	copyDir(t, backup, tb.store())
	tb.start()
	waitFor(t, 20*time.Second, f.nc.IsConnected, "reconnect to the restored store")
	waitFor(t, 20*time.Second, func() bool { return r.src.Progress().Epoch == 2 }, "recovery")
	f.converged(20 * time.Second)
	if m := f.meta(); m.Epoch != 2 {
		t.Errorf("meta epoch = %d, want 2", m.Epoch)
	}
	// The meta saying the epoch's state is whole follows what was republished.
	waitFor(t, 10*time.Second, func() bool { return !f.meta().Partial }, "meta marked whole after the republish")
	before(t, f, "a/three.txt", "")
	if n := r.counter(t, "jetsync_source_broker_loss_total", "kind", "tail"); n != 1 {
		t.Errorf("broker_loss_total{tail} = %v", n)
	}
}

func TestBrokerLostStore(t *testing.T) {
	t.Parallel()
	f, tb := tcpFixture(t)
	tree{"a/one.txt": file("one"), "b/": dir(), "l": link("a"), "big": file(randomBytes(t, 400<<10))}.create(t, f.root)
	r := f.start()
	r.waitIdle(t)
	f.converged(10 * time.Second)

	tb.stop()
	must(t, os.RemoveAll(tb.store()))
	tb.start()
	waitFor(t, 20*time.Second, func() bool { return r.src.Progress().Epoch == 2 }, "recovery")
	f.converged(20 * time.Second)
	if m := f.meta(); m.Epoch != 2 {
		t.Errorf("meta epoch = %d, want 2", m.Epoch)
	}
	if n := r.counter(t, "jetsync_source_broker_loss_total", "kind", "store"); n != 1 {
		t.Errorf("broker_loss_total{store} = %v", n)
	}

	// A restart after the recovery publishes nothing more.
	r.waitIdle(t)
	r.stop(t)
	seq := f.lastSeq()
	r = f.start()
	r.waitIdle(t)
	if got := f.lastSeq(); got != seq {
		t.Errorf("restart after recovery published %d messages", got-seq)
	}
}
