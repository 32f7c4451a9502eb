package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// TestForgedRecordsAreRefused: a replica started with the source's key
// (--source-key) applies only what the source signed. Whoever holds the
// broker's administrator credentials publishes, on a path's subject, an
// unsigned record, one signed by another key, and one moved from another
// path's subject, and a forged folder meta: none changes the replica,
// each is counted as bad_signature, and verify with the key reports the
// forged state as malformed. The source's next change of the path is
// applied as usual.
func TestForgedRecordsAreRefused(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	harness.Must(t, os.MkdirAll(src, 0o755))
	harness.WriteFile(t, filepath.Join(src, "victim.txt"), "the source's content\n", 0o644)
	harness.WriteFile(t, filepath.Join(src, "other.txt"), "another file\n", 0o644)
	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	harness.StartBroker(t, filepath.Join(base, "broker"), addr)
	srcData := filepath.Join(base, "source")
	srcProc := harness.StartSource(t, "source", url, "signed", src, srcData)
	pubKey := filepath.Join(srcData, source.PublicKeyFile)
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := os.Stat(pubKey)
		return err == nil, "the source wrote no public key"
	})
	dst := filepath.Join(base, "dst")
	metrics := harness.FreeAddr(t)
	harness.StartReplica(t, "replica", url, "signed", dst, filepath.Join(base, "replica"), "r1",
		"--source-key", pubKey, "--metrics", metrics)
	harness.Converge(t, time.Minute, url, "signed", src, dst)

	nc, err := nats.Connect(url, harness.AdminOptions(t, url)...)
	harness.Must(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	harness.Must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	forged := []byte("forged by whoever holds the broker\n")
	rec := func(path string) []byte {
		b, err := wire.EncodeRecord(&wire.Record{Epoch: 1, Path: path, Type: wire.File, Mode: 0o666, Size: int64(len(forged)),
			Hash: wire.Sum(forged), Data: wire.EncodeChunk(nil, forged, wire.NoCompression), Time: time.Now().UnixNano()})
		harness.Must(t, err)
		return b
	}
	victim := wire.StateSubject("signed", "victim.txt")
	other, _, err := sign.LoadOrCreate(filepath.Join(base, "other.key"))
	harness.Must(t, err)
	signedByOther := &nats.Msg{Subject: victim, Data: rec("victim.txt")}
	other.Sign(signedByOther)
	// The source's own signed record of other.txt, moved to victim.txt's
	// subject with a body naming victim.txt is caught by the signature
	// over the subject; with its own body, by the path check.
	moved, err := js.Stream(ctx, wire.StreamName("signed"))
	harness.Must(t, err)
	real, err := moved.GetLastMsgForSubject(ctx, wire.StateSubject("signed", "other.txt"))
	harness.Must(t, err)
	forgeries := []*nats.Msg{
		{Subject: victim, Data: rec("victim.txt")},
		signedByOther,
		{Subject: victim, Data: real.Data, Header: real.Header},
		{Subject: wire.MetaSubject("signed"), Data: wire.EncodeMeta(wire.Meta{Epoch: 99, Source: "forged", Time: time.Now().UnixNano()})},
	}
	for _, m := range forgeries {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish a forgery on %s: %v", m.Subject, err)
		}
		time.Sleep(300 * time.Millisecond) // one at a time: a subject keeps its latest message
	}
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		n := harness.ReadMetric(t, metrics, "jetsync_replica_errors_total", `kind="bad_signature"`)
		return n >= 3, fmt.Sprintf("bad_signature rose to %v", n)
	})
	time.Sleep(time.Second)
	if b, _ := os.ReadFile(filepath.Join(dst, "victim.txt")); string(b) != "the source's content\n" {
		t.Fatalf("a forged record reached the replica: victim.txt holds %q", b)
	}
	res := harness.Verify(t, url, "signed", dst, "--source-key", pubKey)
	if res.Code != 1 || !strings.Contains(res.Stdout, "malformed") {
		t.Errorf("verify with the source's key after the forgeries: %s", res)
	}

	// The source's next change of the path replaces the forgery, and at
	// its next start it finds the forged meta and publishes its own again.
	harness.WriteFile(t, filepath.Join(src, "victim.txt"), "changed by the source\n", 0o644)
	harness.Converge(t, time.Minute, url, "signed", src, dst)
	harness.Must(t, srcProc.Restart())
	harness.Eventually(t, time.Minute, func() (bool, string) {
		res := harness.Verify(t, url, "signed", dst, "--source-key", pubKey)
		return res.Code == 0, "verify with the source's key once the source republished: " + res.String()
	})
}
