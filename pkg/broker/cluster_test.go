package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/nats-io/nats.go/jetstream"
)

func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster failover waits for raft elections")
	}
	nodes := jstest.RunCluster(t, 3)
	js, err := jetstream.New(jstest.Connect(t, nodes[0]))
	if err != nil {
		t.Fatal(err)
	}
	s := createStream(t, js, "R3", 3)
	publish(t, js, "R3.a", "before")

	var leader *broker.Broker
	jstest.Eventually(t, 20*time.Second, func() bool {
		leader = jstest.StreamLeader(nodes, "R3")
		return leader != nil
	}, "stream R3 has no leader")

	// Talk to a node that survives so the client itself is unaffected.
	var survivor *broker.Broker
	for _, n := range nodes {
		if n != leader {
			survivor = n
			break
		}
	}
	js2, err := jetstream.New(jstest.Connect(t, survivor))
	if err != nil {
		t.Fatal(err)
	}
	leader.Shutdown()

	// Publishes fail until the remaining two replicas elect a new leader.
	jstest.Eventually(t, 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js2.Publish(ctx, "R3.b", []byte("after"))
		return err == nil
	}, "publish did not succeed after the stream leader was shut down")

	s, err = js2.Stream(ctxT(t, 10*time.Second), "R3")
	if err != nil {
		t.Fatalf("stream info after failover: %v", err)
	}
	if got := s.CachedInfo().State.Msgs; got < 2 {
		t.Fatalf("%d messages after failover, want at least 2", got)
	}
	wantMsg(t, s, 1, "before")
	if nl := jstest.StreamLeader(nodes, "R3"); nl == nil || nl == leader {
		t.Errorf("no new stream leader after failover")
	}
}
