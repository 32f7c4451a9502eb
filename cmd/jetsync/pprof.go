package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/jetsync/jetsync/pkg/broker"
)

// pprofEnv names the environment variable that, set to a loopback
// "host:port", makes any jetsync command serve Go's runtime profiles
// (/debug/pprof/) there for as long as it runs.
const pprofEnv = "JETSYNC_PPROF"

// startPprof serves the profiles when pprofEnv is set and returns the
// function that stops serving them. It refuses a non-loopback address: the
// profiles reveal file names and memory contents.
func startPprof() (stop func(), err error) {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return func() {}, nil
	}
	if !broker.IsLoopback(addr) {
		return nil, fmt.Errorf("%s=%s: the profiling address must be on loopback", pprofEnv, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pprofEnv, err)
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "jetsync: %s: %v\n", pprofEnv, err)
		}
	}()
	fmt.Fprintf(os.Stderr, "jetsync: serving profiles on http://%s/debug/pprof/\n", ln.Addr())
	return func() { _ = srv.Close() }, nil
}

// pprofMux routes the net/http/pprof handlers without touching
// http.DefaultServeMux.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
