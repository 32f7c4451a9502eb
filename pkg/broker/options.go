package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

const (
	// DefaultMaxPayload is large enough for jetsync's biggest chunk message
	// plus headers while staying at the size nats-server considers sane.
	DefaultMaxPayload int32 = 8 << 20
	// DefaultServerName is used for standalone brokers.
	DefaultServerName = "jetsync"
	// DefaultStartTimeout bounds Start. Recovering a large JetStream store
	// after an unclean stop can take a long time, hence the generous default.
	DefaultStartTimeout = 60 * time.Second
)

// withDefaults fills in zero values and rejects configurations that would
// only fail later inside nats-server with a less helpful message.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.DataDir == "" {
		return cfg, errors.New("data dir is required")
	}
	if cfg.MaxPayload < 0 {
		return cfg, fmt.Errorf("invalid max payload %d", cfg.MaxPayload)
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.Cluster != nil {
		// JetStream identifies cluster peers by server name, so a shared
		// default would make every node claim to be the same peer.
		if cfg.ServerName == "" {
			return cfg, errors.New("cluster mode requires a server name unique within the cluster")
		}
		if cfg.Cluster.Name == "" || cfg.Cluster.Listen == "" {
			return cfg, errors.New("cluster mode requires a cluster name and listen address")
		}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultServerName
	}
	if (cfg.Listen != "" || cfg.Cluster != nil) && cfg.Auth == nil && !cfg.Insecure {
		return cfg, errors.New("a broker that listens requires credentials: give it a credentials store, or run it insecure")
	}
	if cfg.TLS != nil && cfg.TLS.Verify && cfg.TLS.CA == "" {
		return cfg, errors.New("verifying client certificates needs the CA that issues them")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// serverOptions translates a defaulted Config into nats-server options.
func serverOptions(cfg Config) (*server.Options, error) {
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		// The server appends "jetstream" itself, which puts the file store
		// at DataDir/jetstream.
		StoreDir:               cfg.DataDir,
		SyncAlways:             cfg.SyncAlways,
		MaxPayload:             cfg.MaxPayload,
		NoSigs:                 true, // signals belong to the embedding program
		DisableJetStreamBanner: true,
	}
	if !cfg.SyncAlways {
		opts.SyncInterval = cfg.SyncInterval
	}
	if int64(cfg.MaxPayload) > server.MAX_PENDING_SIZE {
		// nats-server refuses a payload limit above the per-client pending
		// limit, since such a message could never be buffered.
		opts.MaxPending = int64(cfg.MaxPayload)
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := parseHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.HTTP != "" {
		host, port, err := parseHostPort(cfg.HTTP)
		if err != nil {
			return nil, err
		}
		opts.HTTPHost, opts.HTTPPort = host, port
	}
	if cfg.Cluster != nil {
		if err := clusterOptions(opts, cfg.Cluster); err != nil {
			return nil, err
		}
	}
	if cfg.TLS != nil {
		if err := tlsOptions(opts, cfg.TLS); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

func clusterOptions(opts *server.Options, cc *ClusterConfig) error {
	host, port, err := parseHostPort(cc.Listen)
	if err != nil {
		return err
	}
	opts.Cluster.Name = cc.Name
	opts.Cluster.Host, opts.Cluster.Port = host, port
	for _, r := range cc.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("parse route %q: want nats-route://host:port", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// tlsTimeout bounds a client's TLS handshake; nats-server's default of
// 2 seconds is short for a NAS under load.
const tlsTimeout = 5

func tlsOptions(opts *server.Options, t *TLS) error {
	if t.Cert == "" || t.Key == "" {
		return errors.New("the broker's TLS needs its certificate and key")
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.Cert, KeyFile: t.Key, CaFile: t.CA, Verify: t.Verify})
	if err != nil {
		return fmt.Errorf("load the broker's TLS certificate: %w", err)
	}
	opts.TLSConfig, opts.TLS, opts.TLSVerify, opts.TLSTimeout = tc, true, t.Verify, tlsTimeout
	return nil
}
