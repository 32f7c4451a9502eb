package jstest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRunJetStream(t *testing.T) {
	b := jstest.RunJetStream(t)
	u := b.ClientURL()
	if !strings.HasPrefix(u, "nats://127.0.0.1:") || strings.HasSuffix(u, ":-1") {
		t.Fatalf("ClientURL = %q, want the bound port", u)
	}
	tcp, err := nats.Connect(u)
	if err != nil {
		t.Fatalf("connect over TCP: %v", err)
	}
	defer tcp.Close()

	js, err := jetstream.New(jstest.Connect(t, b))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream not enabled: %v", err)
	}
}

func TestRunCluster(t *testing.T) {
	nodes := jstest.RunCluster(t, 3)
	if jstest.MetaLeader(nodes) == nil {
		t.Fatal("no meta leader after RunCluster")
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.ClientURL()] = true
	}
	if len(seen) != 3 {
		t.Errorf("client URLs not distinct: %v", seen)
	}
	js, err := jetstream.New(jstest.Connect(t, nodes[1]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Replicas: 3}); err != nil {
		t.Fatalf("R3 stream not placeable right after RunCluster: %v", err)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	jstest.Eventually(t, time.Second, func() bool { n++; return n == 3 }, "never true")

	ft := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != errFatal {
				panic(r)
			}
		}()
		jstest.Eventually(ft, 30*time.Millisecond, func() bool { return false }, "waiting for %s", "x")
	}()
	if !strings.Contains(ft.msg, "waiting for x") {
		t.Errorf("failure message %q", ft.msg)
	}
}

var errFatal = errors.New("fatal")

// fatalTB records Fatalf and unwinds like the real one, so the failure path
// of Eventually can be observed without failing this test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(errFatal)
}
