package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
)

// startAuth starts a broker on loopback that admits the credentials of
// its store.
func startAuth(t *testing.T, tls *broker.TLS) (*broker.Broker, access.Store) {
	t.Helper()
	dir := t.TempDir()
	st := access.Store{Dir: filepath.Join(dir, "auth")}
	b := jstest.Start(t, broker.Config{DataDir: dir, Listen: "127.0.0.1:-1", Auth: &st, TLS: tls})
	return b, st
}

// asyncErrs connects with opts and collects the connection's asynchronous
// errors, where the broker's permission refusals arrive.
func asyncErrs(t *testing.T, url string, opts ...nats.Option) (*nats.Conn, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

func wantDenied(t *testing.T, errs chan error, what string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("%s: %v, want a permissions violation", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("%s: allowed", what)
	}
}

func TestListeningBrokerRequiresCredentials(t *testing.T) {
	_, err := broker.Start(broker.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Logger: discard()})
	if err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("a listening broker without credentials: %v", err)
	}
	b, st := startAuth(t, nil)
	for _, id := range []access.Identity{access.AdminID(), access.MonitorID()} {
		if _, err := os.Stat(st.Path(id)); err != nil {
			t.Errorf("credentials of %s not generated: %v", id, err)
		}
	}
	if nc, err := nats.Connect(b.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("connected without credentials over loopback")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connect without credentials: %v, want an authorization error", err)
	}
	if nc, err := nats.Connect(b.ClientURL(), nats.Token("anything")); err == nil {
		nc.Close()
		t.Fatal("connected with a token")
	}
	admin, err := nats.NkeyOptionFromSeed(st.Path(access.AdminID()))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(b.ClientURL(), admin)
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	nc.Close()
	jstest.Connect(t, b) // in-process clients are the administrator
}

func TestInProcessClientHasItsRolePermissions(t *testing.T) {
	b, _ := startAuth(t, nil)
	opts, err := b.ConnectAs(access.SourceOf("f"))
	if err != nil {
		t.Fatal(err)
	}
	nc, errs := asyncErrs(t, "", opts...)
	if err := nc.Publish("jetsync.f.s.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("jetsync.g.s.x", nil); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, errs, "the source of f publishing a state of folder g")
	if _, err := nc.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, errs, "a source reading every inbox")
}

func TestCredentialsAddedAndRevokedWhileRunning(t *testing.T) {
	b, st := startAuth(t, nil)
	id := access.ReplicaOf("f", "r1")
	path := st.Path(id)
	_, _, err := st.Ensure(id)
	if err != nil {
		t.Fatal(err)
	}
	nk, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	var nc *nats.Conn
	jstest.Eventually(t, 5*time.Second, func() bool {
		nc, err = nats.Connect(b.ClientURL(), nk, nats.NoReconnect())
		return err == nil
	}, "new credentials not admitted: %v", err)
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a client whose credentials were removed is still connected")
	}
	if nc, err := nats.Connect(b.ClientURL(), nk); err == nil {
		nc.Close()
		t.Error("revoked credentials admitted")
	}
}

func TestTLS(t *testing.T) {
	c := jstest.NewCerts(t)
	b, st := startAuth(t, &broker.TLS{Cert: c.ServerCert, Key: c.ServerKey})
	admin, err := nats.NkeyOptionFromSeed(st.Path(access.AdminID()))
	if err != nil {
		t.Fatal(err)
	}
	url := b.ClientURL()
	tlsURL := strings.Replace(url, "nats://", "tls://", 1)
	for name, tc := range map[string]struct {
		url  string
		opts []nats.Option
		ok   bool
	}{
		"our CA":                {url, []nats.Option{nats.RootCAs(c.CA)}, true},
		"tls:// and our CA":     {tlsURL, []nats.Option{nats.RootCAs(c.CA)}, true},
		"system CAs":            {url, nil, false},
		"another CA":            {url, []nats.Option{nats.RootCAs(c.OtherCA)}, false},
		"tls:// and another CA": {tlsURL, []nats.Option{nats.RootCAs(c.OtherCA)}, false},
	} {
		nc, err := nats.Connect(tc.url, append(tc.opts, admin)...)
		if nc != nil {
			nc.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: connect: %v, want success %v", name, err, tc.ok)
		}
	}
	jstest.Connect(t, b) // in-process clients need no TLS
}

func TestTLSClientCertificates(t *testing.T) {
	c := jstest.NewCerts(t)
	b, st := startAuth(t, &broker.TLS{Cert: c.ServerCert, Key: c.ServerKey, CA: c.CA, Verify: true})
	admin, err := nats.NkeyOptionFromSeed(st.Path(access.AdminID()))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		opts []nats.Option
		ok   bool
	}{
		"our client certificate":     {[]nats.Option{nats.ClientCert(c.ClientCert, c.ClientKey)}, true},
		"no client certificate":      {nil, false},
		"certificate of another CA":  {[]nats.Option{nats.ClientCert(c.OtherClientCert, c.OtherClientKey)}, false},
		"certificate, wrong CA seen": {[]nats.Option{nats.ClientCert(c.ClientCert, c.ClientKey), nats.RootCAs(c.OtherCA)}, false},
	} {
		opts := append([]nats.Option{nats.RootCAs(c.CA), admin}, tc.opts...)
		nc, err := nats.Connect(b.ClientURL(), opts...)
		if nc != nil {
			nc.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: connect: %v, want success %v", name, err, tc.ok)
		}
	}
}

// TestClientWithCARefusesPlainText is what keeps a replica given --tls-ca
// from talking to an impostor without TLS.
func TestClientWithCARefusesPlainText(t *testing.T) {
	c := jstest.NewCerts(t)
	b := jstest.RunJetStream(t)
	_, _, err := bus.Connect(bus.ConnectOptions{URL: b.ClientURL(), TLS: bus.TLSFiles{CA: c.CA}, Logger: discard()})
	if err == nil || !errors.Is(err, nats.ErrSecureConnWanted) {
		t.Fatalf("connect with a CA to a broker without TLS: %v, want %v", err, nats.ErrSecureConnWanted)
	}
}
