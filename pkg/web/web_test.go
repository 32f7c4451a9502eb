package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
)

// The page and its data are served from the binary, the data from the
// broker, with a lag sample per replica at most every few seconds.
func TestPageServesStatus(t *testing.T) {
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bus.EnsureStream(t.Context(), js, "photos", bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	kv, err := bus.StatusKV(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.PutStatus(t.Context(), kv, bus.ReplicaKey("photos", "nas2"),
		bus.ReplicaStatus{V: 1, ID: "nas2", State: "live", Updated: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(js, "", slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for path, want := range map[string]string{"/": "<title>jetsync status</title>", "/app.js": "api/status", "/style.css": ".badge"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %s, lacks %q", path, resp.Status, want)
		}
	}
	var st apiStatus
	for range 2 { // the second request comes too soon for another sample
		resp, err := http.Get(srv.URL + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if st.Error != "" || len(st.Folders) != 1 || len(st.Folders[0].Replicas) != 1 || st.Folders[0].Replicas[0].State != "live" {
		t.Fatalf("/api/status: %+v", st)
	}
	if h := st.History["photos/nas2"]; len(h) != 1 || h[0].State != "live" {
		t.Fatalf("history: %+v", st.History)
	}
}
