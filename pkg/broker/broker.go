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
	"syscall"
	"time"
	"unicode"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/access"
)

// Config describes an embedded broker. Only DataDir is required.
type Config struct {
	// DataDir holds the JetStream file store (DataDir/jetstream).
	DataDir string
	// Listen is the "host:port" for TCP clients. Port 0 or -1 picks a free
	// port (see ClientURL). Empty means no TCP listener at all: only
	// in-process clients can connect.
	Listen string
	// HTTP is an optional "host:port" for the NATS monitoring endpoints
	// (/varz, /jsz, /connz…). They are not protected by Auth, so keep
	// them on loopback. Empty disables monitoring.
	HTTP string
	// Auth holds the credentials of every client the broker admits, each
	// with its role's permissions (see package access); the broker
	// generates the administrator's and monitoring's, and takes in
	// credentials added to or removed from it while it runs. Nil admits
	// anyone to do anything, which a broker that listens (Listen or a
	// cluster) only accepts with Insecure.
	Auth *access.Store
	// Insecure lets a broker listen without Auth, with a warning.
	Insecure bool
	// TLS, if set, makes client connections use TLS (in-process clients
	// are exempt).
	TLS *TLS
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

// TLS is the broker's TLS configuration: PEM files of its certificate
// and key and, to check client certificates, of the CA that issues them.
type TLS struct {
	Cert, Key string
	CA        string // the CA of client certificates
	Verify    bool   // require a client certificate signed by CA
}

// Broker is a running embedded NATS server with JetStream.
type Broker struct {
	srv      *server.Server
	opts     *server.Options
	auth     *access.Store
	listens  bool
	host     string
	httpHost string
	log      *slog.Logger
	authMu   sync.Mutex // guards opts and version
	version  string     // of auth, when its users were loaded
	stop     chan struct{}
	done     chan struct{}
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
	version, err := loadUsers(cfg.Auth, opts)
	if err != nil {
		return nil, err
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
	b := &Broker{
		srv:      srv,
		opts:     opts,
		auth:     cfg.Auth,
		listens:  !opts.DontListen,
		host:     opts.Host,
		httpHost: opts.HTTPHost,
		log:      cfg.Logger,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if cfg.Insecure && b.listens {
		b.log.Warn("the broker admits anyone without credentials (--insecure): whoever can reach it can change or delete every replica's data",
			"listen", cfg.Listen)
	}
	go b.watchAuth(version)
	return b, nil
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
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s listener: %w (is another broker or jetsync already running there? stop it, or choose another address)", role, err)
		}
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

// ConnectOptions lets a client in the same process connect without TCP,
// as the administrator when the broker requires credentials: pass them to
// nats.Connect with an empty URL.
func (b *Broker) ConnectOptions() []nats.Option {
	opts, err := b.ConnectAs(access.AdminID())
	if err != nil {
		// The administrator's credentials were read at start; losing them
		// since leaves a client the broker turns away, which says why.
		b.log.Error("in-process connection without credentials", "err", err)
		return []nats.Option{nats.InProcessServer(b.srv)}
	}
	return opts
}

// ConnectAs lets a client in the same process connect without TCP with
// the credentials of id from the broker's store, generating them if need
// be, and its inbox prefix: pass them to nats.Connect with an empty URL.
// Without a store it is ConnectOptions.
func (b *Broker) ConnectAs(id access.Identity) ([]nats.Option, error) {
	opts := []nats.Option{nats.InProcessServer(b.srv)}
	if b.auth == nil {
		return opts, nil
	}
	path, created, err := b.auth.Ensure(id)
	if err != nil {
		return nil, err
	}
	if created {
		b.reloadNow()
	}
	nk, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", id, err)
	}
	return append(opts, nk, nats.CustomInboxPrefix(access.InboxPrefix(id))), nil
}

// Server exposes the underlying server for monitoring and tests.
func (b *Broker) Server() *server.Server { return b.srv }

// Shutdown stops the server and waits until it has released its store and
// ports. It is safe to call more than once and concurrently.
func (b *Broker) Shutdown() {
	b.shutdown.Do(func() {
		close(b.stop)
		<-b.done
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	})
}
