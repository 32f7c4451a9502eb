package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

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
}

func (b *brokerFlags) register(fs *flag.FlagSet, listenDefault string) {
	fs.StringVar(&b.listen, "listen", listenDefault, "address the embedded broker listens on for clients, e.g. 0.0.0.0:4222")
	fs.BoolVar(&b.insecure, "insecure", false, "allow a non-loopback --listen without authentication (anyone on the network could then delete replica data)")
	fs.BoolVar(&b.syncAlways, "sync-always", false, "fsync every broker write (slower; by default the source detects and republishes a lost tail, see docs/PROTOCOL.md)")
	fs.StringVar(&b.serverName, "server-name", "", "broker name (must be unique in a cluster)")
	fs.StringVar(&b.clusterName, "cluster", "", "JetStream cluster name (enables clustering)")
	fs.StringVar(&b.clusterAddr, "cluster-listen", "", "address for cluster routes, e.g. 0.0.0.0:6222")
	fs.StringVar(&b.routes, "routes", "", "comma-separated cluster routes, e.g. nats-route://b:6222,nats-route://c:6222")
}

// registerHTTP adds --http for the broker's own NATS monitoring
// listener, to `jetsync broker` (a source that embeds a broker serves
// those endpoints on its own --http listener).
func (b *brokerFlags) registerHTTP(fs *flag.FlagSet) {
	fs.StringVar(&b.http, "http", "", "address for the broker's NATS monitoring endpoints (/varz, /jsz), e.g. 127.0.0.1:8222")
}

// start runs the embedded broker with its store under dataDir. A broker
// reachable from the network gets a generated token unless --insecure.
func (b *brokerFlags) start(dataDir string, log *slog.Logger) (*broker.Broker, error) {
	cfg := broker.Config{DataDir: dataDir, Listen: b.listen, HTTP: b.http, SyncAlways: b.syncAlways,
		ServerName: b.serverName, Logger: log.With("component", "broker")}
	if b.clusterName != "" {
		cfg.Cluster = &broker.ClusterConfig{Name: b.clusterName, Listen: b.clusterAddr, Routes: splitComma(b.routes)}
	}
	if b.listen != "" && !broker.IsLoopback(b.listen) {
		if b.insecure {
			log.Warn("broker listens without authentication: anyone who can reach it can change or delete replica data", "listen", b.listen)
		} else {
			token, path, created, err := broker.EnsureToken(dataDir)
			if err != nil {
				return nil, err
			}
			cfg.Token = token
			announceToken(path, created, b.listen)
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create broker data dir: %w", err)
	}
	return broker.Start(cfg)
}

func announceToken(path string, created bool, listen string) {
	verb := "uses"
	if created {
		verb = "generated"
	}
	fmt.Fprintf(os.Stderr, "jetsync: the broker on %s requires a token; %s %s\n", listen, verb, path)
	fmt.Fprintf(os.Stderr, "jetsync: copy that file to each replica and pass it with --token-file FILE\n")
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// dial connects to an external broker.
func (c *connFlags) dial(name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if c.url == "" {
		return nil, nil, usagef("--nats is required")
	}
	token, err := c.token()
	if err != nil {
		return nil, nil, err
	}
	return bus.Connect(bus.ConnectOptions{URL: c.url, Token: token, Creds: c.creds, Name: name, Logger: log})
}

// buildInfo is jetsync_build_info: 1, labelled with the version and the
// Go release that built it, for dashboards that show what runs where.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "jetsync_build_info",
		Help:        "Always 1; the labels say which jetsync build runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	g.Set(1)
	return g
}
