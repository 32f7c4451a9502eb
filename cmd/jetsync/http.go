package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/jetsync/jetsync/pkg/web"
)

// httpFlags are a daemon's HTTP endpoints: --http serves the status page
// (/), its data (/api/status), /metrics and /healthz; --metrics serves
// only the last two (both may be given, on different addresses).
type httpFlags struct {
	http, metrics string
	// nats, when the daemon embeds the broker, adds its monitoring
	// endpoints (/varz, /jsz, ...) to --http.
	nats *server.Server
}

func (h *httpFlags) register(fs *flag.FlagSet, example string) {
	fs.StringVar(&h.http, "http", "", "address to serve the status page (/), /metrics, /healthz and, with an embedded broker, its NATS monitoring endpoints (/varz, /jsz, ...) on, e.g. "+example)
	fs.StringVar(&h.metrics, "metrics", "", "address to serve only Prometheus /metrics and /healthz on, e.g. "+example)
}

// serving is what a daemon serves over HTTP next to its work.
type serving struct {
	httpFlags
	reg    *prometheus.Registry
	log    *slog.Logger
	js     jetstream.JetStream // for the status page; nil: no page
	folder string
	// gather, if set, is what /metrics serves instead of reg alone (a
	// daemon with several folders); health, if set, makes /healthz
	// answer 503 with its error.
	gather prometheus.Gatherer
	health func() error
}

// runServing runs a daemon's services next to its HTTP endpoints; the
// first to fail stops the others.
func runServing(ctx context.Context, sv serving, services ...func(context.Context) error) error {
	if sv.http != "" || sv.metrics != "" {
		sv.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			buildInfo())
	}
	g, gctx := errgroup.WithContext(ctx)
	if sv.metrics != "" {
		g.Go(func() error { return serveHTTP(gctx, sv.metrics, sv.metricsMux(), sv.log, "metrics") })
	}
	if sv.http != "" {
		mux := sv.metricsMux()
		if sv.nats != nil {
			for path, h := range natsEndpoints(sv.nats) {
				mux.HandleFunc("GET "+path, h)
			}
		}
		if sv.js != nil {
			page := web.New(sv.js, sv.folder, sv.log)
			page.Register(mux)
			g.Go(func() error { return page.Run(gctx) })
		}
		g.Go(func() error { return serveHTTP(gctx, sv.http, mux, sv.log, "status page and metrics") })
	}
	for _, run := range services {
		g.Go(func() error { return run(gctx) })
	}
	return g.Wait()
}

func (sv serving) metricsMux() *http.ServeMux {
	mux := http.NewServeMux()
	var g prometheus.Gatherer = sv.reg
	if sv.gather != nil {
		g = sv.gather
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if sv.health != nil {
			if err := sv.health(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// natsEndpoints are an embedded broker's monitoring endpoints, as
// nats-server serves them on its own monitoring port.
func natsEndpoints(s *server.Server) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"/varz": s.HandleVarz, "/jsz": s.HandleJsz, "/connz": s.HandleConnz,
		"/subsz": s.HandleSubsz, "/routez": s.HandleRoutez, "/accountz": s.HandleAccountz,
		"/leafz": s.HandleLeafz, "/gatewayz": s.HandleGatewayz, "/raftz": s.HandleRaftz}
}

// serveHTTP serves mux on addr until ctx ends.
func serveHTTP(ctx context.Context, addr string, mux *http.ServeMux, log *slog.Logger, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for the %s: %w", what, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("serving the "+what, "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve the %s: %w", what, err)
	}
	return nil
}
