package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config describes an embedded broker. Only DataDir is required.
type Config struct {
	// DataDir holds the JetStream file store (DataDir/jetstream) and the
	// token file written by EnsureToken.
	DataDir string
	// Listen is the "host:port" for TCP clients. Port 0 or -1 picks a free
	// port (see ClientURL). Empty means no TCP listener at all: only
	// in-process clients can connect.
	Listen string
	// HTTP is an optional "host:port" for the NATS monitoring endpoints
	// (/varz, /jsz, /connz…). They are not protected by Token, so keep
	// them on loopback. Empty disables monitoring.
	HTTP string
	// Token is the client auth token; empty disables authentication.
	Token string
	// SyncAlways fsyncs every JetStream write. It survives power loss at a
	// large throughput cost; without it a crash of the whole machine can lose
	// up to SyncInterval of acknowledged writes.
	SyncAlways bool
	// SyncInterval is the background fsync period when SyncAlways is off;
	// 0 keeps the server default.
	SyncInterval time.Duration
	// MaxPayload is the largest message accepted; 0 means DefaultMaxPayload.
	MaxPayload int32
	// ServerName defaults to DefaultServerName for a standalone broker and
	// must be set, unique per node, in cluster mode.
	ServerName string
	// Cluster makes this broker one node of a JetStream cluster; nil runs
	// standalone.
	Cluster *ClusterConfig
	// Logger receives the server's log output; nil means slog.Default().
	// Server debug logging follows slog.LevelDebug, protocol tracing
	// LevelTrace.
	Logger *slog.Logger
	// StartTimeout bounds how long Start waits for the server, including
	// JetStream store recovery; 0 means DefaultStartTimeout.
	StartTimeout time.Duration
}

// ClusterConfig describes a node's place in a JetStream cluster. Routes are
// not authenticated, so Listen must only be reachable by the other nodes.
type ClusterConfig struct {
	Name   string   // cluster name, identical on every node
	Listen string   // "host:port" for routes from the other nodes
	Routes []string // nats-route://host:port of the nodes, may include this one
}

// Broker is a running embedded NATS server with JetStream.
type Broker struct {
	srv      *server.Server
	token    string
	listens  bool
	host     string
	httpHost string
	shutdown sync.Once
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Broker, error) {
	b, err := start(cfg)
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	return b, nil
}

func start(cfg Config) (*Broker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opts, err := serverOptions(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := checkPortsFree(opts); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	logger := newSlogAdapter(cfg.Logger)
	debug, trace := logger.levels()
	srv.SetLoggerV2(logger, debug, trace, false)

	// Start blocks through JetStream recovery, so it runs in the background
	// while readiness is polled with a deadline.
	go srv.Start()
	if err := waitReady(srv, logger.fatal, cfg.StartTimeout); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	return &Broker{
		srv:      srv,
		token:    cfg.Token,
		listens:  !opts.DontListen,
		host:     opts.Host,
		httpHost: opts.HTTPHost,
	}, nil
}

// waitReady polls in short steps so that a fatal startup error reported
// through the logger ends the wait at once instead of after the timeout.
func waitReady(srv *server.Server, fatal <-chan string, timeout time.Duration) error {
	const step = 50 * time.Millisecond
	deadline := time.Now().Add(timeout)
	for {
		select {
		case msg := <-fatal:
			return errors.New(lowerFirst(msg))
		default:
		}
		if srv.ReadyForConnections(step) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %s", timeout)
		}
	}
}

// lowerFirst adapts a server log message to Go error style without
// mangling a leading acronym or name such as "JetStream".
func lowerFirst(s string) string {
	r := []rune(s)
	if len(r) < 2 || !unicode.IsUpper(r[0]) || unicode.IsUpper(r[1]) {
		return s
	}
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// checkPortsFree binds each fixed port briefly before the server does. The
// server would only log a bind failure and keep waiting; this turns the
// common "already in use" case into a plain net error naming the address.
func checkPortsFree(opts *server.Options) error {
	check := func(role, host string, port int) error {
		if port <= 0 {
			return nil
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("%s listener: %w", role, err)
		}
		return ln.Close()
	}
	if !opts.DontListen {
		if err := check("client", opts.Host, opts.Port); err != nil {
			return err
		}
	}
	if err := check("monitoring", opts.HTTPHost, opts.HTTPPort); err != nil {
		return err
	}
	return check("cluster", opts.Cluster.Host, opts.Cluster.Port)
}

// ClientURL returns nats://host:port for TCP clients, with the actually bound
// port when Listen asked for a random one, or "" without a TCP listener. A
// wildcard bind address is replaced by loopback so the URL is dialable
// locally; remote clients need the machine's own address instead.
func (b *Broker) ClientURL() string {
	if !b.listens {
		return ""
	}
	addr, ok := b.srv.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	u := url.URL{Scheme: "nats", Host: net.JoinHostPort(dialableHost(b.host), strconv.Itoa(addr.Port))}
	return u.String()
}

// MonitorURL returns http://host:port of the monitoring endpoints, or "" when
// Config.HTTP was empty.
func (b *Broker) MonitorURL() string {
	addr := b.srv.MonitorAddr()
	if addr == nil {
		return ""
	}
	host := dialableHost(b.httpHost)
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(addr.Port))}
	return u.String()
}

// ConnectOptions lets a client in the same process connect without TCP:
// pass them to nats.Connect with an empty URL.
func (b *Broker) ConnectOptions() []nats.Option {
	opts := []nats.Option{nats.InProcessServer(b.srv)}
	if b.token != "" {
		opts = append(opts, nats.Token(b.token))
	}
	return opts
}

// Server exposes the underlying server for monitoring and tests.
func (b *Broker) Server() *server.Server { return b.srv }

// Shutdown stops the server and waits until it has released its store and
// ports. It is safe to call more than once and concurrently.
func (b *Broker) Shutdown() {
	b.shutdown.Do(func() {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	})
}
