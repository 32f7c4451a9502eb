package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/bus"
)

// brokerFlags configure an embedded broker.
type brokerFlags struct {
	listen, http string
	insecure     bool
	syncAlways   bool
	serverName   string
	clusterName  string
	clusterAddr  string
	routes       string
	tls          *tlsFlags
	tlsVerify    bool
	folder       string // the source's, for the hints it prints
}

// register adds the broker's flags; tls are the command's --tls-* flags
// if it registered them already (source), nil to register them here.
func (b *brokerFlags) register(fs *flag.FlagSet, listenDefault string, tls *tlsFlags) {
	fs.StringVar(&b.listen, "listen", listenDefault, "address the embedded broker listens on for clients, e.g. 0.0.0.0:4222")
	fs.BoolVar(&b.insecure, "insecure", false, "admit clients without credentials (anyone who can reach the broker could then delete replica data)")
	fs.BoolVar(&b.syncAlways, "sync-always", false, "fsync every broker write (slower; by default the source detects and republishes a lost tail, see docs/PROTOCOL.md)")
	fs.StringVar(&b.serverName, "server-name", "", "broker name (must be unique in a cluster)")
	fs.StringVar(&b.clusterName, "cluster", "", "JetStream cluster name (enables clustering)")
	fs.StringVar(&b.clusterAddr, "cluster-listen", "", "address for cluster routes, e.g. 0.0.0.0:6222")
	fs.StringVar(&b.routes, "routes", "", "comma-separated cluster routes, e.g. nats-route://b:6222,nats-route://c:6222")
	if tls == nil {
		tls = &tlsFlags{}
		tls.register(fs, "broker")
	}
	b.tls = tls
	fs.BoolVar(&b.tlsVerify, "tls-verify", false, "require a client certificate signed by --tls-ca")
}

// registerHTTP adds --http to `jetsync broker`: its status page and the
// broker's NATS monitoring endpoints (a source that embeds a broker
// serves those on its own --http listener).
func (b *brokerFlags) registerHTTP(fs *flag.FlagSet) {
	fs.StringVar(&b.http, "http", "", "address for the status page (/), /metrics, /healthz and the broker's NATS monitoring endpoints (/varz, /jsz, ...), e.g. 127.0.0.1:8222; they need no credentials, keep them on loopback")
}

// authDir is where an embedded broker started with --data data keeps the
// credentials it admits: beside its store (data/broker), so that a store
// lost or wiped takes no credentials with it.
func authDir(data string) string { return filepath.Join(data, "auth") }

// start runs the embedded broker with its store in data/broker. Unless
// --insecure, it admits only the credentials in data/auth, generating the
// administrator's and monitoring's on first start.
func (b *brokerFlags) start(data string, log *slog.Logger) (*broker.Broker, error) {
	dataDir := filepath.Join(data, "broker")
	cfg := broker.Config{DataDir: dataDir, Listen: b.listen, HTTP: b.http, SyncAlways: b.syncAlways,
		ServerName: b.serverName, Logger: log.With("component", "broker"), Insecure: b.insecure}
	if b.clusterName != "" {
		cfg.Cluster = &broker.ClusterConfig{Name: b.clusterName, Listen: b.clusterAddr, Routes: splitComma(b.routes)}
	}
	if b.tls.cert != "" || b.tls.key != "" || b.tlsVerify {
		cfg.TLS = &broker.TLS{Cert: b.tls.cert, Key: b.tls.key, CA: b.tls.ca, Verify: b.tlsVerify}
	}
	fresh := false
	if !b.insecure {
		cfg.Auth = &access.Store{Dir: authDir(data)}
		_, err := os.Stat(cfg.Auth.Path(access.AdminID()))
		fresh = errors.Is(err, fs.ErrNotExist)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create broker data dir: %w", err)
	}
	br, err := broker.Start(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Auth != nil {
		b.secure(br, log)
		if fresh {
			b.announce(cfg.Auth.Dir, data)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "broker.token")); err == nil {
			log.Warn("the broker no longer accepts broker.token: each client needs its own credentials (see README, Upgrading)",
				"credentials", cfg.Auth.Dir)
		}
	}
	return br, nil
}

// secure turns off the rollups of a status bucket made by an older
// release, which the daemons themselves may not do.
func (b *brokerFlags) secure(br *broker.Broker, log *slog.Logger) {
	if b.clusterName != "" {
		return // the bucket is the cluster's, not this node's
	}
	nc, js, err := bus.Connect(bus.ConnectOptions{Name: "jetsync broker", Extra: br.ConnectOptions(), Logger: log})
	if err == nil {
		defer nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = bus.SecureStatusBucket(ctx, js)
	}
	if err != nil && !errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		log.Warn("status bucket left as it was", "err", err)
	}
}

// announce says, at the broker's first start, where the credentials are
// and how to make a replica's.
func (b *brokerFlags) announce(dir, data string) {
	folder := b.folder
	if folder == "" {
		folder = "FOLDER"
	}
	fmt.Fprintf(os.Stderr, "jetsync: the broker on %s admits only the credentials in %s\n", b.listen, dir)
	fmt.Fprintf(os.Stderr, "jetsync: give each replica its own: jetsync credentials --data %s --folder %s --replica ID\n", data, folder)
}
