package netfaults

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// convergeTimeout bounds each wait for the replica after a fault heals.
const convergeTimeout = 90 * time.Second

// TestNetworkCut runs a source and a replica that reach their broker
// through proxies, and cuts and blackholes each link in turn while the
// source's tree changes; jetsync verify and status go to the broker
// directly. A cut link must really be cut (the replica does not get the
// changes; with the source cut, the broker does not), the source must
// keep publishing while the replica is cut off and keep noticing changes
// while it is cut off itself. After every heal the replica must converge
// (an independent tree comparison and jetsync verify exit 0), and at the
// end both daemons must report fresh status again.
func TestNetworkCut(t *testing.T) {
	t.Parallel()
	defer keepLogs(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "netcut"
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(20260601)))

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	harness.StartBroker(t, filepath.Join(root, "broker"), addr)
	srcLink := startProxy(t, addr)
	repLink := startProxy(t, addr)
	source := harness.StartSource(t, "source", srcLink.URL(), folder, src, filepath.Join(root, "source-data"))
	replica := harness.StartReplica(t, "replica", repLink.URL(), folder, dst, filepath.Join(root, "replica-data"), "r1")
	stacksOnFailure(t, source, replica)
	ch := &changer{t: t, src: src}

	harness.Phase(t, "initial sync", func() {
		harness.Converge(t, convergeTimeout, url, folder, src, dst)
	})

	// The replica's link goes down: the source keeps publishing (the
	// broker's state equals the source tree), the replica sees nothing.
	repCut := func(name string, cut func(), d time.Duration) {
		harness.Phase(t, name, func() {
			start := time.Now()
			cut()
			marker := ch.next()
			waitVerify(t, url, folder, src, 30*time.Second, "the source did not publish while the replica's link was down")
			ch.next()
			sleepUntil(start.Add(d))
			if exists(dst, marker) {
				t.Errorf("the replica got %s while its link was %s: the proxy does not cut", marker, repLink.Mode())
			}
			healAndConverge(t, repLink, url, folder, src, dst)
		})
	}
	repCut("replica link dropped", func() { mustDrop(t, repLink, "replica") }, 5*time.Second)
	repCut("replica link blackholed", func() { mustBlackhole(t, repLink, "replica") }, 8*time.Second)

	// The source's link goes down: the source must keep noticing changes
	// and publish them once the link heals; the broker and the replica
	// see nothing meanwhile.
	srcCut := func(name string, cut func(), d time.Duration) {
		harness.Phase(t, name, func() {
			start := time.Now()
			cut()
			first := ch.next()
			sleepUntil(start.Add(d / 2))
			ch.next()
			sleepUntil(start.Add(d))
			if exists(dst, first) {
				t.Errorf("the replica got %s while the source's link was %s: the proxy does not cut", first, srcLink.Mode())
			}
			if res := harness.Verify(t, url, folder, src); res.Code == 0 {
				t.Errorf("jetsync verify of the source tree passed while the source's link was %s: the proxy does not cut", srcLink.Mode())
			}
			healAndConverge(t, srcLink, url, folder, src, dst)
		})
	}
	srcCut("source link dropped", func() { mustDrop(t, srcLink, "source") }, 5*time.Second)
	srcCut("source link blackholed", func() { mustBlackhole(t, srcLink, "source") }, 8*time.Second)

	// One more round over healthy links: nothing was left in a bad state,
	// and both daemons report their status through their links again.
	harness.Phase(t, "after the faults", func() {
		since := time.Now()
		ch.next()
		harness.Converge(t, convergeTimeout, url, folder, src, dst)
		waitFreshStatus(t, url, folder, since, 30*time.Second)
	})
	for _, p := range []*harness.Proc{source, replica} {
		log := p.LastRunLog()
		t.Logf("%s: %d disconnects, %d reconnects logged", p.Name(),
			strings.Count(log, "disconnected from broker"), strings.Count(log, "reconnected to broker"))
	}
	for name, p := range map[string]*Proxy{"source": srcLink, "replica": repLink} {
		acc, ref, sev, n := p.Stats()
		t.Logf("%s proxy: %d connections accepted, %d refused while dropped, %d severed, %d bytes", name, acc, ref, sev, n)
	}
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	harness.Must(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// mustDrop cuts the link and fails the test if no daemon was connected
// through it (the fault would test nothing).
func mustDrop(t *testing.T, p *Proxy, who string) {
	t.Helper()
	waitLive(t, p, who)
	if n := p.Drop(); n == 0 {
		t.Fatalf("the %s's link had no connection to cut", who)
	}
}

func mustBlackhole(t *testing.T, p *Proxy, who string) {
	t.Helper()
	waitLive(t, p, who)
	p.Blackhole()
}

// waitLive waits until the daemon is connected through p.
func waitLive(t *testing.T, p *Proxy, who string) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		return p.Live() > 0, "no connection of the " + who + " through its proxy"
	})
}

// healAndConverge heals the link and waits for convergence, logging how
// long it took.
func healAndConverge(t *testing.T, p *Proxy, url, folder, src, dst string) {
	t.Helper()
	healed := time.Now()
	p.Heal()
	at := harness.Converge(t, convergeTimeout, url, folder, src, dst)
	t.Logf("converged %.1fs after the heal", at.Sub(healed).Seconds())
}
