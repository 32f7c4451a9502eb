package netfaults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// clusterNode is one `jetsync broker` of a JetStream cluster.
type clusterNode struct {
	name string
	addr string // client address
	proc *harness.Proc
}

func (n *clusterNode) url() string { return "nats://" + n.addr }

// startCluster starts three brokers forming the JetStream cluster
// "jetsync-net", each routed to the two others.
func startCluster(t *testing.T, root string) []*clusterNode {
	t.Helper()
	addrs := freeAddrs(t, 6)
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = &clusterNode{name: fmt.Sprintf("n%d", i+1), addr: addrs[i]}
	}
	for i, n := range nodes {
		var routes []string
		for j := range nodes {
			if j != i {
				routes = append(routes, "nats-route://"+addrs[3+j])
			}
		}
		n.proc = harness.Start(t, "broker-"+n.name, "broker",
			"--data", filepath.Join(root, "broker-"+n.name), "--listen", n.addr, "--log-format", "text",
			"--server-name", n.name, "--cluster", "jetsync-net", "--cluster-listen", addrs[3+i],
			"--routes", strings.Join(routes, ","))
	}
	for _, n := range nodes {
		harness.WaitListening(t, n.addr)
	}
	return nodes
}

// freeAddrs returns n distinct loopback addresses nobody listens on: the
// ports are held open together, so none is handed out twice.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		harness.Must(t, err)
		lns = append(lns, ln)
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// clusterWatch asks the cluster about the folder stream.
type clusterWatch struct {
	t      *testing.T
	nodes  []*clusterNode
	stream string
	js     jetstream.JetStream
}

func newClusterWatch(t *testing.T, nodes []*clusterNode, folder string) *clusterWatch {
	t.Helper()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	// The nodes take in the administrator's credentials, which the
	// harness copies to each, within a moment of each other.
	opts := append([]nats.Option{nats.Name("netfaults test"),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.IgnoreAuthErrorAbort(),
		nats.ReconnectWait(100 * time.Millisecond), nats.Timeout(time.Second)}, harness.AdminOptions(t, urls[0])...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	harness.Must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	harness.Must(t, err)
	return &clusterWatch{t: t, nodes: nodes, stream: wire.StreamName(folder), js: js}
}

// info returns the stream's info, or an error (no stream yet, election,
// the node the test talks to just died).
func (w *clusterWatch) info() (*jetstream.StreamInfo, error) { return w.streamInfo(w.stream) }

func (w *clusterWatch) streamInfo(name string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// leader waits until the stream has a leader among the running nodes, and
// returns it with the info that named it.
func (w *clusterWatch) leader(timeout time.Duration) (*clusterNode, *jetstream.StreamInfo) {
	w.t.Helper()
	var node *clusterNode
	var info *jetstream.StreamInfo
	harness.Eventually(w.t, timeout, func() (bool, string) {
		var err error
		if info, err = w.info(); err != nil {
			return false, err.Error()
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return false, "stream " + w.stream + " has no leader"
		}
		for _, n := range w.nodes {
			if n.name == info.Cluster.Leader && n.proc.Running() {
				node = n
				return true, ""
			}
		}
		return false, "stream leader " + info.Cluster.Leader + " is not a running node"
	})
	return node, info
}

// firstLeader polls fast until the stream exists, has a leader and holds
// at least one message, and returns the leader and that info. It fails
// the test after timeout.
func (w *clusterWatch) firstLeader(timeout time.Duration) (*clusterNode, *jetstream.StreamInfo) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		if err := harness.CheckAlive(w.t); err != nil {
			harness.FailWithLogs(w.t, err.Error())
		}
		info, err := w.info()
		switch {
		case err != nil:
			last = err.Error()
		case info.Cluster == nil || info.Cluster.Leader == "":
			last = "stream " + w.stream + " has no leader"
		case info.State.Msgs == 0:
			last = "stream " + w.stream + " is empty"
		default:
			for _, n := range w.nodes {
				if n.name == info.Cluster.Leader {
					return n, info
				}
			}
			last = "stream leader " + info.Cluster.Leader + " is not a node of the test"
		}
		time.Sleep(5 * time.Millisecond)
	}
	harness.FailWithLogs(w.t, fmt.Sprintf("no stream leader within %s: %s", timeout, last))
	return nil, nil
}

// healthy waits until the stream has a leader and every other replica is
// current (a restarted node caught up).
func (w *clusterWatch) healthy(timeout time.Duration) {
	w.t.Helper()
	harness.Eventually(w.t, timeout, func() (bool, string) {
		info, err := w.info()
		if err != nil {
			return false, err.Error()
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return false, "no stream leader"
		}
		if len(info.Cluster.Replicas) != len(w.nodes)-1 {
			return false, fmt.Sprintf("stream has %d followers, want %d", len(info.Cluster.Replicas), len(w.nodes)-1)
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false, fmt.Sprintf("follower %s: current %v, offline %v, lag %d", r.Name, r.Current, r.Offline, r.Lag)
			}
		}
		return true, ""
	})
}

// logConsumers logs where the folder stream and its consumers live: a
// replica that stops receiving is often waiting for a consumer placed on
// a dead node.
func (w *clusterWatch) logConsumers() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := w.js.Stream(ctx, w.stream)
	if err != nil {
		w.t.Logf("stream %s: %v", w.stream, err)
		return
	}
	info := st.CachedInfo()
	w.t.Logf("stream %s: leader %s, last seq %d", w.stream, info.Cluster.Leader, info.State.LastSeq)
	for _, r := range info.Cluster.Replicas {
		w.t.Logf("  follower %s: current %v, offline %v, active %s, lag %d", r.Name, r.Current, r.Offline, r.Active, r.Lag)
	}
	names := st.ConsumerNames(ctx)
	for name := range names.Name() {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		c, err := st.Consumer(cctx, name)
		ccancel()
		if err != nil {
			w.t.Logf("consumer %s: %v", name, err)
			continue
		}
		ci := c.CachedInfo()
		if ci.Cluster != nil {
			w.t.Logf("consumer %s: leader %q, delivered stream seq %d, pending %d", name, ci.Cluster.Leader, ci.Delivered.Stream, ci.NumPending)
		}
	}
	if err := names.Err(); err != nil {
		w.t.Logf("consumer names: %v", err)
	}
}

// survivor returns a running node other than except.
func survivor(t *testing.T, nodes []*clusterNode, except *clusterNode) *clusterNode {
	t.Helper()
	for _, n := range nodes {
		if n != except && n.proc.Running() {
			return n
		}
	}
	t.Fatal("no running broker left")
	return nil
}

// TestClusteredBroker runs the source and the replica against a
// three-node JetStream cluster with an R3 stream, kills the stream
// leader with SIGKILL during the initial sync and again during live
// changes, and checks that both daemons fail over and the replica
// converges, jetsync verify passing against a surviving node.
func TestClusteredBroker(t *testing.T) {
	t.Parallel()
	defer keepLogs(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "cluster"
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(20260602)))
	writeRandomFiles(t, filepath.Join(src, "bulk"), 6, 1<<20)
	total := harness.CountFiles(src)

	cs := startClusterSync(t, root, folder, src, dst, false)
	nodes, w := cs.nodes, cs.w

	var killed *clusterNode
	var killedAt time.Time
	harness.Phase(t, "leader killed during the initial sync", func() {
		// The cluster is ready once the source has created the stream;
		// kill its leader as soon as it holds part of the tree.
		leader, info := w.firstLeader(90 * time.Second)
		if info.Config.Replicas != 3 {
			t.Fatalf("stream %s has %d replicas, want 3", w.stream, info.Config.Replicas)
		}
		leader.proc.Kill9()
		killed, killedAt = leader, time.Now()
		applied := harness.CountFiles(dst)
		t.Logf("killed stream leader %s with %d messages in the stream, %d of %d files on the replica",
			leader.name, info.State.Msgs, applied, total)
		if applied >= total {
			t.Logf("warning: the replica had the whole tree before the kill; the kill tested the source less")
		}
		s := survivor(t, nodes, killed)
		at := harness.Converge(t, 3*time.Minute, s.url(), folder, src, dst)
		t.Logf("initial sync converged %.1fs after the kill", at.Sub(killedAt).Seconds())
		verifyEach(t, nodes, killed, folder, dst)
		newLeader, _ := w.leader(30 * time.Second)
		t.Logf("new stream leader: %s", newLeader.name)
	})

	harness.Phase(t, "killed node restarted", func() {
		harness.Must(t, killed.proc.Start())
		harness.WaitListening(t, killed.addr)
		w.healthy(90 * time.Second)
		if res := harness.Verify(t, killed.url(), folder, dst); res.Code != 0 {
			t.Errorf("jetsync verify against the restarted %s: %s", killed.name, res)
		}
	})

	ch := &changer{t: t, src: src}
	harness.Phase(t, "leader killed during live changes", func() {
		for i := range 8 {
			ch.next()
			if i == 3 {
				leader, _ := w.leader(30 * time.Second)
				leader.proc.Kill9()
				killed, killedAt = leader, time.Now()
				t.Logf("killed stream leader %s after %d rounds of changes", leader.name, i+1)
			}
			time.Sleep(400 * time.Millisecond)
		}
		s := survivor(t, nodes, killed)
		at := harness.Converge(t, 3*time.Minute, s.url(), folder, src, dst)
		t.Logf("converged %.1fs after the kill", at.Sub(killedAt).Seconds())
		verifyEach(t, nodes, killed, folder, dst)
	})
}

// clusterSync is a three-node cluster with a source and a replica.
type clusterSync struct {
	nodes           []*clusterNode
	w               *clusterWatch
	source, replica *harness.Proc
}

// startClusterSync starts a three-node cluster, a source of src with an
// R3 stream and a replica into dst, both given the URLs of all nodes. With
// replicaFirst the replica runs for a while before the source starts, as
// when the new machine of a migration is set up first: it waits for the
// folder and reports its status meanwhile.
func startClusterSync(t *testing.T, root, folder, src, dst string, replicaFirst bool) *clusterSync {
	t.Helper()
	cs := &clusterSync{nodes: startCluster(t, root)}
	var urls []string
	for _, n := range cs.nodes {
		urls = append(urls, n.url())
	}
	all := strings.Join(urls, ",")
	cs.w = newClusterWatch(t, cs.nodes, folder)
	startReplica := func() {
		cs.replica = harness.StartReplica(t, "replica", all, folder, dst, filepath.Join(root, "replica-data"), "r1")
	}
	if replicaFirst {
		startReplica()
		harness.Eventually(t, 90*time.Second, func() (bool, string) {
			return strings.Contains(cs.replica.LastRunLog(), "waiting for the source"), "the replica does not wait for the source"
		})
		time.Sleep(5 * time.Second) // a few status reports
	}
	cs.source = harness.StartSource(t, "source", all, folder, src, filepath.Join(root, "source-data"), "--stream-replicas", "3")
	if !replicaFirst {
		startReplica()
	}
	stacksOnFailure(t, cs.source, cs.replica)
	t.Cleanup(func() {
		if t.Failed() {
			cs.w.logConsumers()
		}
	})
	return cs
}

// TestClusteredStatus checks that `jetsync status` and the daemons'
// reports survive the loss of any one node of a three-node cluster, as
// the folder's R3 stream does. The replica starts first (the new machine
// of a migration is often set up before its source), then the source
// with --stream-replicas 3; once both report, the node that leads the
// status bucket is killed (SIGKILL), and fresh reports of the source and
// the replica must be readable through a surviving node.
func TestClusteredStatus(t *testing.T) {
	t.Parallel()
	defer keepLogs(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	const folder = "clstatus"
	for i := range 20 {
		harness.WriteFile(t, filepath.Join(src, "docs", fmt.Sprintf("f%02d.txt", i)), fmt.Sprintf("file %d\n", i), 0o644)
	}
	harness.WriteFile(t, filepath.Join(src, treegen.ReadmeTxt), "readme\n", 0o644)
	start := time.Now()
	cs := startClusterSync(t, root, folder, src, dst, true)
	nodes, w := cs.nodes, cs.w
	w.leader(90 * time.Second)
	harness.Converge(t, 2*time.Minute, nodes[0].url(), folder, src, dst)
	waitFreshStatus(t, nodes[0].url(), folder, start, time.Minute)

	kv := "KV_" + bus.StatusBucket
	var host *clusterNode
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		info, err := w.streamInfo(kv)
		if err != nil {
			return false, err.Error()
		}
		host = nil
		for _, n := range nodes {
			if info.Cluster != nil && n.name == info.Cluster.Leader {
				host = n
				t.Logf("status bucket %s: %d replicas, leader %s", kv, info.Config.Replicas, n.name)
			}
		}
		return host != nil, "status bucket has no leader"
	})
	host.proc.Kill9()
	killedAt := time.Now()
	s := survivor(t, nodes, host)
	ch := &changer{t: t, src: src}
	ch.next()
	harness.Converge(t, 2*time.Minute, s.url(), folder, src, dst)
	waitFreshStatus(t, s.url(), folder, killedAt, time.Minute)
	t.Logf("status reports fresh again %.1fs after %s was killed", time.Since(killedAt).Seconds(), host.name)
}

// writeRandomFiles writes n files of size random bytes into dir.
func writeRandomFiles(t *testing.T, dir string, n, size int) {
	t.Helper()
	harness.Must(t, os.MkdirAll(dir, 0o755))
	buf := make([]byte, size)
	for i := range n {
		rng := rand.NewChaCha8([32]byte{byte(i), 'b', 'u', 'l', 'k'})
		_, _ = rng.Read(buf)
		harness.Must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("bulk-%d.bin", i)), buf, 0o644))
	}
}

// verifyEach runs jetsync verify of dst against every running node but
// except.
func verifyEach(t *testing.T, nodes []*clusterNode, except *clusterNode, folder, dst string) {
	t.Helper()
	for _, n := range nodes {
		if n == except || !n.proc.Running() {
			continue
		}
		start := time.Now()
		if res := harness.Verify(t, n.url(), folder, dst); res.Code != 0 {
			t.Errorf("jetsync verify against %s: %s", n.name, res)
		}
		t.Logf("jetsync verify against %s: %s", n.name, time.Since(start).Round(time.Millisecond))
	}
}
