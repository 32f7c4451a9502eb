package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOptions says how to reach the broker.
type ConnectOptions struct {
	URL    string        // nats://host:port[,…]; ignored when Extra holds nats.InProcessServer
	Token  string        // auth token, if the broker requires one
	Creds  string        // NATS credentials file, if the broker uses NKeys/JWTs
	Name   string        // connection name shown in the broker's monitoring
	Extra  []nats.Option // e.g. the embedded broker's in-process option
	Logger *slog.Logger
}

// Connect dials the broker. It keeps retrying in the background with
// backoff when the broker is unreachable (saying so in the log), so a
// daemon can start before its broker; JetStream calls fail until then.
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
		nats.RetryOnFailedConnect(true),
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
			log.Warn("broker unreachable, retrying", "err", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("broker error", "err", err) }),
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	opts = append(opts, o.Extra...)
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
