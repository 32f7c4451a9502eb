package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOptions says how to reach the broker and who to be there. Every
// credential form of nats.go may be given; the broker decides which it
// asks for.
type ConnectOptions struct {
	URL      string // nats://host:port[,…] or tls://…; ignored when Extra holds nats.InProcessServer
	Token    string // auth token, if the broker requires one
	Creds    string // NATS credentials file (user JWT and NKey seed)
	NKey     string // NKey seed file, such as jetsync's credentials files
	User     string // user name, with Password
	Password string
	// TLS: CA is the CA file that the broker's certificate must chain to;
	// setting it (or a tls:// URL) refuses a broker without TLS. Cert and
	// Key are the client's certificate, for a broker that asks for one.
	TLS TLSFiles
	// InboxPrefix is the prefix of this client's reply subjects, the one
	// its permissions let it subscribe to (access.InboxPrefix); empty is
	// nats.go's _INBOX.
	InboxPrefix string
	// KeepTrying makes Connect return at once and connect in the
	// background, retrying with backoff while the broker is unreachable or
	// refuses the credentials (they may be added to it later), so that a
	// daemon can start before its broker; JetStream calls fail until
	// then. Without it Connect fails at once, as a command should.
	KeepTrying bool
	// Refused says, in a retrying daemon's log, what to do when the broker
	// refuses the credentials (which ones, and where new ones come from).
	Refused string
	Name    string        // connection name shown in the broker's monitoring
	Extra   []nats.Option // e.g. the embedded broker's in-process options
	Logger  *slog.Logger
}

// TLSFiles are the PEM files of a client's TLS configuration.
type TLSFiles struct{ CA, Cert, Key string }

// Connect dials the broker, retrying for as long as the connection lives
// once it was made (and from the start with KeepTrying), saying so in the
// log.
func Connect(o ConnectOptions) (*nats.Conn, jetstream.JetStream, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	connected := slog.LevelInfo
	if len(o.Extra) > 0 {
		connected = slog.LevelDebug // in-process: nothing to report
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.RetryOnFailedConnect(o.KeepTrying),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Log(context.Background(), connected, "connected to broker", "url", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !nc.IsClosed() {
				log.Warn("disconnected from broker, retrying", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected to broker", "url", nc.ConnectedUrlRedacted()) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if errors.Is(err, nats.ErrAuthorization) && o.Refused != "" {
				log.Warn("authorization violation, retrying: "+o.Refused, "err", err)
				return
			}
			log.Warn("cannot connect to the broker, retrying", "err", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("broker error", "err", err) }),
	}
	auth, err := o.authOptions()
	if err != nil {
		return nil, nil, err
	}
	opts = append(append(opts, auth...), o.Extra...)
	url := o.URL
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to broker %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open jetstream: %w", err)
	}
	return nc, js, nil
}

// authOptions are the credentials, TLS and inbox options.
func (o ConnectOptions) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if o.KeepTrying {
		// A daemon waits for credentials the operator is still adding
		// rather than exit; it logs every refusal.
		opts = append(opts, nats.IgnoreAuthErrorAbort())
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		nk, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("read NKey seed %s: %w", o.NKey, err)
		}
		opts = append(opts, nk)
	}
	if o.User != "" || o.Password != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.TLS.CA != "" {
		opts = append(opts, nats.RootCAs(o.TLS.CA))
	}
	if o.TLS.Cert != "" || o.TLS.Key != "" {
		if o.TLS.Cert == "" || o.TLS.Key == "" {
			return nil, errors.New("a client certificate needs both its certificate and key files")
		}
		opts = append(opts, nats.ClientCert(o.TLS.Cert, o.TLS.Key))
	}
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	return opts, nil
}

// Backoff is the wait after attempt failed attempts (counted from 0):
// 250 ms, doubling, at most limit.
func Backoff(attempt int, limit time.Duration) time.Duration {
	return min(250*time.Millisecond<<min(max(attempt, 0), 16), limit)
}

// reconnectDelay paces reconnects: up to 5 seconds apart.
func reconnectDelay(attempts int) time.Duration { return Backoff(attempts, 5*time.Second) }

// Retry calls fn until it succeeds or ctx ends, backing off between
// attempts and logging each failure. It is for start-up steps that need the
// broker, such as creating the stream.
func Retry(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn(what+" failed, retrying", "err", err, "attempt", attempt+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(reconnectDelay(attempt)):
		}
	}
}
