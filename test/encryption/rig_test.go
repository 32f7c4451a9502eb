package encryption

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/replica"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/netfaults"
)

const folder = "vault"

// rig is a broker with its store in a directory of the test's, and a
// proxy in front of it that records what crosses it.
type rig struct {
	t     *testing.T
	store string
	b     *broker.Broker
	proxy *netfaults.Proxy

	mu   sync.Mutex
	wire bytes.Buffer
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, store: t.TempDir()}
	r.b = jstest.Start(t, broker.Config{Listen: "127.0.0.1:-1", DataDir: r.store, SyncAlways: true})
	u := r.b.ClientURL()
	p, err := netfaults.NewProxy(u[len("nats://"):])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetTap(func(b []byte) {
		r.mu.Lock()
		r.wire.Write(b)
		r.mu.Unlock()
	})
	r.proxy = p
	return r
}

// connect opens a client connection through the proxy.
func (r *rig) connect() (*nats.Conn, jetstream.JetStream) {
	nc, err := nats.Connect(r.proxy.URL())
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		r.t.Fatal(err)
	}
	return nc, js
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// daemon is a running source or replica.
type daemon struct {
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{} // closed when the daemon's Run returned err
	err    error
}

// stop stops the daemon and checks that it stopped cleanly.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	if err := d.wait(t); err != nil {
		t.Errorf("daemon stopped with %v", err)
	}
}

// wait waits for the daemon to end and returns what its Run returned.
func (d *daemon) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-d.done:
		return d.err
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
		return nil
	}
}

// run runs fn until the test ends (or stop), which waits for it before
// the test's directories are removed.
func run(t *testing.T, fn func(context.Context) error) *daemon {
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{cancel: cancel, done: make(chan struct{})}
	go func() {
		d.err = fn(ctx)
		close(d.done)
	}()
	t.Cleanup(func() {
		cancel()
		_ = d.wait(t)
	})
	return d
}

func (r *rig) source(root string, key *seal.Key) (*daemon, *source.Source) {
	nc, js := r.connect()
	reg := prometheus.NewRegistry()
	s, err := source.New(source.Config{Folder: folder, Root: root, DataDir: r.t.TempDir(), Logger: logger(r.t),
		Registry: reg, Encryption: key, Compression: wire.NoCompression}, nc, js)
	if err != nil {
		r.t.Fatal(err)
	}
	d := run(r.t, s.Run)
	d.reg = reg
	return d, s
}

func (r *rig) replica(root string, key *seal.Key) (*daemon, *replica.Replica) {
	_, js := r.connect()
	reg := prometheus.NewRegistry()
	rep, err := replica.New(replica.Config{Folder: folder, Root: root, DataDir: r.t.TempDir(), ID: "r1", Logger: logger(r.t),
		Registry: reg, CheckInterval: 200 * time.Millisecond, Encryption: key}, js)
	if err != nil {
		r.t.Fatal(err)
	}
	d := run(r.t, rep.Run)
	d.reg = reg
	return d, rep
}

// errorsOf is the value of a daemon's errors_total counter of kind.
func (d *daemon) errorsOf(t *testing.T, metric, kind string) float64 {
	mfs, err := d.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// storeFiles returns every regular file under the broker's store.
func (r *rig) storeFiles() map[string][]byte {
	out := map[string][]byte{}
	err := filepath.WalkDir(r.store, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) captured() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.wire.Bytes())
}

// streamLastSeq is the folder's state stream's last sequence.
func (r *rig) streamLastSeq() uint64 {
	_, js := r.connect()
	st, err := js.Stream(context.Background(), wire.StreamName(folder))
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.LastSeq
}

// cached is how many chunks the folder's content cache holds.
func (r *rig) cached() uint64 {
	_, js := r.connect()
	st, err := js.Stream(context.Background(), wire.CacheStreamName(folder))
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Msgs
}
