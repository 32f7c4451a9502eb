package jstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/nats-io/nats-server/v2/server"
)

// clusterTimeout covers meta leader election, which takes several seconds
// by design (randomised election timeouts) and longer under -race.
const clusterTimeout = 45 * time.Second

// RunCluster starts an n-node JetStream cluster on loopback and waits until
// a meta leader exists and sees every node, so that streams with up to n
// replicas can be placed right away. Nodes are named jetsync-0…jetsync-n-1,
// listen for clients on random ports and share the cluster name "jetsync".
func RunCluster(t testing.TB, n int) []*broker.Broker {
	t.Helper()
	if n < 1 {
		t.Fatalf("run cluster: need at least one node, got %d", n)
	}
	// Every node needs every route address up front, so the route ports
	// are reserved before any node starts instead of being chosen randomly.
	ports := freePorts(t, n)
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	nodes := make([]*broker.Broker, n)
	for i := range nodes {
		nodes[i] = Start(t, broker.Config{
			Listen:     "127.0.0.1:-1",
			ServerName: fmt.Sprintf("jetsync-%d", i),
			Cluster: &broker.ClusterConfig{
				Name:   "jetsync",
				Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes: routes,
			},
		})
	}
	Eventually(t, clusterTimeout, func() bool {
		l := MetaLeader(nodes)
		return l != nil && len(l.Server().JetStreamClusterPeers()) == n
	}, "no JetStream meta leader seeing all %d nodes", n)
	return nodes
}

// MetaLeader returns the running node that currently leads the JetStream
// meta group, or nil during an election.
func MetaLeader(nodes []*broker.Broker) *broker.Broker {
	for _, b := range nodes {
		if b.Server().Running() && b.Server().JetStreamIsLeader() {
			return b
		}
	}
	return nil
}

// StreamLeader returns the running node leading the named stream in the
// global account, or nil during an election.
func StreamLeader(nodes []*broker.Broker, stream string) *broker.Broker {
	for _, b := range nodes {
		if b.Server().Running() && b.Server().JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return b
		}
	}
	return nil
}

// freePorts reserves n distinct loopback ports by holding them all open at
// once, then releases them for the servers to bind.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve port: %v", err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}
