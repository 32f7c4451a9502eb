package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/jstest"
)

// A daemon that embeds the broker serves the broker's own monitoring
// endpoints on its --http listener.
func TestEmbeddedBrokerEndpoints(t *testing.T) {
	b := jstest.Start(t, broker.Config{DataDir: t.TempDir()})
	sv := serving{reg: prometheus.NewRegistry()}
	mux := sv.metricsMux()
	for path, h := range natsEndpoints(b.Server()) {
		mux.HandleFunc("GET "+path, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, field := range map[string]string{"/varz": "server_id", "/jsz": "config"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || body[field] == nil {
			t.Errorf("GET %s: %s, %v, no %q in %v", path, resp.Status, err, field, body)
		}
	}
}
