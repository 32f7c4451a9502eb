package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/jstest"
)

func TestReplicaIDFromCredentials(t *testing.T) {
	st := access.Store{Dir: t.TempDir()}
	nas2, _, err := st.Ensure(access.ReplicaOf("photos", "nas2"))
	if err != nil {
		t.Fatal(err)
	}
	monitor, _, err := st.Ensure(access.MonitorID())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, tc := range []struct {
		nkey, folder, id string
		want             string // "" for a refusal
	}{
		{nas2, "photos", "", "nas2"},
		{nas2, "photos", "nas2", "nas2"},
		{nas2, "photos", "nas3", ""},
		{nas2, "music", "", ""},
		{monitor, "photos", "", host},
		{"", "photos", "r9", "r9"},
		{"", "photos", "", host},
	} {
		cf := connFlags{nkey: tc.nkey}
		got, err := replicaID(&cf, tc.folder, tc.id)
		var ue usageError
		switch {
		case tc.want == "" && !errors.As(err, &ue):
			t.Errorf("%s --folder %s --id %q: %q, %v; want a usage error", filepath.Base(tc.nkey), tc.folder, tc.id, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s --folder %s --id %q: %q, %v; want %q", filepath.Base(tc.nkey), tc.folder, tc.id, got, err, tc.want)
		}
	}
}

func TestCheckIdentity(t *testing.T) {
	st := access.Store{Dir: t.TempDir()}
	path := func(id access.Identity) string {
		p, _, err := st.Ensure(id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	src := access.SourceOf("photos")
	for nkey, ok := range map[string]bool{
		"":                                    true,
		path(src):                             true,
		path(access.AdminID()):                true,
		path(access.SourceOf("music")):        false,
		path(access.ReplicaOf("photos", "r")): false,
	} {
		if err := checkIdentity(&connFlags{nkey: nkey}, src); (err == nil) != ok {
			t.Errorf("--nkey %s for %s: %v", filepath.Base(nkey), src, err)
		}
	}
}

func TestConnectionInboxFollowsCredentials(t *testing.T) {
	st := access.Store{Dir: t.TempDir()}
	monitor, _, _ := st.Ensure(access.MonitorID())
	def := access.ReplicaOf("photos", "x")
	for nkey, want := range map[string]string{
		"":      access.InboxPrefix(def),
		monitor: access.InboxPrefix(access.MonitorID()),
	} {
		cf := connFlags{url: "nats://127.0.0.1:1", nkey: nkey}
		o, err := cf.options("test", def, nil)
		if err != nil || o.InboxPrefix != want {
			t.Errorf("--nkey %q: inbox %q, %v; want %q", nkey, o.InboxPrefix, err, want)
		}
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("  s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := readSecret(p); err != nil || s != "s3cret" {
		t.Errorf("readSecret = %q, %v", s, err)
	}
	if err := os.WriteFile(p, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readSecret(p); err == nil {
		t.Error("an empty secret accepted")
	}
}

// TestRefusedConnectionSaysWhatToDo: a one-shot command refused by the
// broker fails at once and names the credentials it was refused.
func TestRefusedConnectionSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	b := jstest.Start(t, broker.Config{DataDir: filepath.Join(dir, "broker"), Listen: "127.0.0.1:-1",
		Auth: &access.Store{Dir: filepath.Join(dir, "auth")}})
	other := access.Store{Dir: filepath.Join(dir, "other")}
	if _, _, err := other.Ensure(access.MonitorID()); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("guess\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cf   connFlags
		want string
	}{
		{connFlags{nkey: other.Path(access.MonitorID())}, "authorization violation: the broker refused the credentials in " + other.Path(access.MonitorID())},
		{connFlags{tokenFile: token}, "authorization violation: the broker refused the token in " + token},
		{connFlags{}, "authorization violation: the broker requires credentials: give --nkey FILE"},
		{connFlags{url: "nats://127.0.0.1:1"}, "broker unreachable at nats://127.0.0.1:1"},
	} {
		if tc.cf.url == "" {
			tc.cf.url = b.ClientURL()
		}
		start := time.Now()
		_, _, err := tc.cf.connect("test", access.MonitorID(), false, slog.New(slog.DiscardHandler))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cf, err, tc.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%+v: failed after %s, want at once", tc.cf, d)
		}
	}
}
