package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestTLSTwoBoxes is the two-box setup over TLS with client certificates,
// with certificates made by the test: a source whose embedded broker
// serves TLS and requires client certificates, and a replica with its
// credentials, the CA and its certificate. A replica that trusts another
// CA, one without a client certificate, and one with --tls-ca facing a
// plain-text broker (an impostor, which could relay the real broker's
// challenge) each refuse to go on, say why, and apply nothing.
func TestTLSTwoBoxes(t *testing.T) {
	t.Parallel()
	const folder = "tls-e2e"
	certs := jstest.NewCerts(t)
	root := t.TempDir()
	src, srcData := filepath.Join(root, "src"), filepath.Join(root, "source-data")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(43)))
	addr := harness.FreeAddr(t)
	url := "tls://" + addr

	// The replica's credentials, made as README says, before the source
	// starts: its broker admits them from the start.
	res := harness.RunCLI(t, 30*time.Second, "credentials", "--data", srcData, "--folder", folder, "--replica", "r1")
	if res.Code != 0 {
		t.Fatalf("jetsync credentials: %s", res)
	}
	creds := strings.TrimSpace(res.Stdout)
	harness.Start(t, "source", "source", "--folder", folder, "--path", src, "--data", srcData, "--listen", addr,
		"--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-ca", certs.CA, "--tls-verify", "--log-format", "text")
	harness.WaitListening(t, addr)
	clientTLS := []string{"--nkey", creds, "--tls-ca", certs.CA, "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey}

	dst := filepath.Join(root, "dst")
	harness.StartReplica(t, "replica", url, folder, dst, filepath.Join(root, "replica-data"), "r1", clientTLS...)
	harness.Eventually(t, 2*time.Minute, func() (bool, string) { return harness.SameTree(t, src, dst) })
	if res := harness.Verify(t, url, folder, dst, clientTLS...); res.Code != 0 {
		t.Errorf("jetsync verify over TLS: %s", res)
	}

	impostor := harness.FreeAddr(t)
	harness.StartBroker(t, filepath.Join(root, "impostor"), impostor)
	for _, bad := range []struct {
		name, url string
		want      []string // what its log may say (the broker's refusal of a missing certificate comes in one of two ways)
		args      []string
	}{
		{"another CA", url, []string{"certificate signed by unknown authority"},
			[]string{"--nkey", creds, "--tls-ca", certs.OtherCA, "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey}},
		{"no client certificate", url, []string{"certificate required", "connection closed by remote after TLS handshake"},
			[]string{"--nkey", creds, "--tls-ca", certs.CA}},
		{"plain-text broker", "nats://" + impostor, []string{"secure connection not available"}, clientTLS},
	} {
		harness.Phase(t, "replica with "+bad.name, func() {
			badDst := filepath.Join(root, "dst-"+strings.ReplaceAll(bad.name, " ", "-"))
			p := harness.StartReplica(t, "replica-"+bad.name, bad.url, folder, badDst,
				filepath.Join(root, "data-"+bad.name), "r1", bad.args...)
			harness.Eventually(t, 30*time.Second, func() (bool, string) {
				log := p.LastRunLog()
				for _, w := range bad.want {
					if strings.Contains(log, w) {
						return true, ""
					}
				}
				return false, fmt.Sprintf("its log says none of %q:\n%s", bad.want, harness.FirstLines(log, 10))
			})
			harness.Must(t, p.Stop())
			if n := harness.CountFiles(badDst); n != 0 {
				t.Errorf("the replica with %s applied %d files", bad.name, n)
			}
		})
	}
}
