package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/nats-io/nats.go/jetstream"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func createStream(t *testing.T, js jetstream.JetStream, name string, replicas int) jetstream.Stream {
	t.Helper()
	s, err := js.CreateStream(ctxT(t, 20*time.Second), jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{name + ".>"},
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return s
}

func publish(t *testing.T, js jetstream.JetStream, subj, data string) {
	t.Helper()
	if _, err := js.Publish(ctxT(t, 10*time.Second), subj, []byte(data)); err != nil {
		t.Fatalf("publish %s: %v", subj, err)
	}
}

func wantMsg(t *testing.T, s jetstream.Stream, seq uint64, want string) {
	t.Helper()
	m, err := s.GetMsg(ctxT(t, 10*time.Second), seq)
	if err != nil {
		t.Fatalf("get msg %d: %v", seq, err)
	}
	if string(m.Data) != want {
		t.Fatalf("msg %d = %q, want %q", seq, m.Data, want)
	}
}

func TestInProcessWithoutListener(t *testing.T) {
	b := jstest.Start(t, broker.Config{})
	if u := b.ClientURL(); u != "" {
		t.Errorf("ClientURL = %q without a listener", u)
	}
	nc := jstest.Connect(t, b)
	if got := nc.MaxPayload(); got != int64(broker.DefaultMaxPayload) {
		t.Errorf("max payload %d, want %d", got, broker.DefaultMaxPayload)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s := createStream(t, js, "FILES", 1)
	publish(t, js, "FILES.a", "hello")
	wantMsg(t, s, 1, "hello")
}

func TestRestartKeepsMessages(t *testing.T) {
	cfg := broker.Config{DataDir: t.TempDir(), SyncAlways: true}
	b := jstest.Start(t, cfg)
	js, err := jetstream.New(jstest.Connect(t, b))
	if err != nil {
		t.Fatal(err)
	}
	createStream(t, js, "KEEP", 1)
	for i := range 3 {
		publish(t, js, "KEEP.x", fmt.Sprint("m", i))
	}
	b.Shutdown()
	b.Shutdown() // idempotent
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "jetstream")); err != nil {
		t.Fatalf("store not under DataDir/jetstream: %v", err)
	}

	b2 := jstest.Start(t, cfg)
	js2, err := jetstream.New(jstest.Connect(t, b2))
	if err != nil {
		t.Fatal(err)
	}
	s, err := js2.Stream(ctxT(t, 10*time.Second), "KEEP")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	if n := s.CachedInfo().State.Msgs; n != 3 {
		t.Fatalf("%d messages after restart, want 3", n)
	}
	wantMsg(t, s, 3, "m2")
}

func TestStartPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Listen: ln.Addr().String(), Insecure: true, Logger: discard()})
	if err == nil {
		b.Shutdown()
		t.Fatal("started on a port in use")
	}
	t.Logf("error: %v", err)
	msg := err.Error()
	if !strings.HasPrefix(msg, "start broker: ") || !strings.Contains(msg, ln.Addr().String()) ||
		!strings.Contains(msg, "choose another address") {
		t.Errorf("unhelpful error: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failure took %s, want it reported at once", d)
	}
}

func TestStartFatalIsReported(t *testing.T) {
	// A file where the store directory should be makes JetStream fail to
	// start; that must surface as an error, not as a start timeout.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jetstream"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, err := broker.Start(broker.Config{DataDir: dir, Logger: discard(), StartTimeout: 20 * time.Second})
	if err == nil {
		b.Shutdown()
		t.Fatal("started with an unusable store")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("error does not name the cause: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failure took %s, want it reported at once", d)
	}
}

func TestMonitoringEndpoint(t *testing.T) {
	b := jstest.Start(t, broker.Config{HTTP: "127.0.0.1:-1"})
	u := b.MonitorURL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("MonitorURL = %q", u)
	}
	resp, err := http.Get(u + "/jsz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/jsz status %d", resp.StatusCode)
	}
	if u := jstest.RunJetStream(t).MonitorURL(); u != "" {
		t.Errorf("MonitorURL = %q with monitoring off", u)
	}
}

// TestServerLogsGoToSlog: the server's notices (its 17-line banner
// among them) are debug lines; what it warns of stays visible.
func TestServerLogsGoToSlog(t *testing.T) {
	var info, debug jstest.LogBuffer
	jstest.Start(t, broker.Config{Logger: info.Logger(slog.LevelInfo), ServerName: "logtest"}).Shutdown()
	jstest.Start(t, broker.Config{Logger: debug.Logger(slog.LevelDebug), ServerName: "logtest"}).Shutdown()
	if out := info.String(); strings.Contains(out, "component=nats") {
		t.Errorf("server notices logged at info:\n%s", out)
	}
	out := debug.String()
	if !strings.Contains(out, "component=nats") || !strings.Contains(out, "logtest") || !strings.Contains(out, "Starting nats-server") {
		t.Errorf("server log not routed to slog at debug:\n%s", out)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
