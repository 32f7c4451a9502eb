package replica

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/wire"
)

// signedPub publishes as a source with a signing key would.
func (p *publisher) signed(s *sign.Signer, subject string, data []byte) {
	p.t.Helper()
	m := &nats.Msg{Subject: subject, Data: data}
	s.Sign(m)
	if _, err := p.js.PublishMsg(context.Background(), m); err != nil {
		p.t.Fatal(err)
	}
}

func encoded(t *testing.T, r wire.Record) []byte {
	t.Helper()
	r.Epoch, r.Time = 1, time.Now().UnixNano()
	b, err := wire.EncodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A replica given the source's key applies what it signed and rejects,
// as bad messages, what it did not: unsigned records, records signed by
// another key, a forged folder meta.
func TestOnlySignedRecordsAreApplied(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	src, trust := newSigner(t, (*sign.Signer).Fingerprint)
	other, _ := newSigner(t, (*sign.Signer).PublicKey)
	pub.signed(src, wire.MetaSubject(folder), wire.EncodeMeta(wire.Meta{Epoch: 1, Source: "test"}))
	mt := time.Unix(1700000000, 0)
	file := func(path, content string) wire.Record {
		return wire.Record{Path: path, Type: wire.File, Mode: 0o644, MTime: mt.UnixNano(), Size: int64(len(content)),
			Hash: wire.Sum([]byte(content)), Data: wire.EncodeChunk(nil, []byte(content), wire.NoCompression)}
	}
	pub.signed(src, wire.StateSubject(folder, "good"), encoded(t, file("good", "signed")))
	pub.signed(other, wire.StateSubject(folder, "other"), encoded(t, file("other", "another key")))
	pub.pub(wire.StateSubject(folder, "unsigned"), encoded(t, file("unsigned", "no signature")))
	// The source's signature of "good", moved onto another subject.
	moved := &nats.Msg{Subject: wire.StateSubject(folder, "good"), Data: encoded(t, file("moved", "moved"))}
	src.Sign(moved)
	moved.Subject = wire.StateSubject(folder, "moved")
	if _, err := pub.js.PublishMsg(context.Background(), moved); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), withRegistry(reg), func(c *Config) { c.SourceKey = trust })
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		return fileIs(root, "good", []byte("signed"), 0o644, mt)() && r.Progress().Settled
	}, "the signed record was not applied")
	for _, p := range []string{"other", "unsigned", "moved"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s, not signed by the source, was applied", p)
		}
	}
	if n := counter(t, reg, "jetsync_replica_errors_total", "kind", "bad_signature"); n < 3 {
		t.Errorf("bad_signature = %v, want 3", n)
	}

	// A forged meta is rejected: the last good one stands.
	pub.p(wire.Meta{Epoch: 7, Source: "forged"})
	jstest.Eventually(t, 10*time.Second, func() bool {
		return counter(t, reg, "jetsync_replica_errors_total", "kind", "bad_signature") >= 4
	}, "the forged meta was not rejected")
	if e := r.Progress().Epoch; e != 1 {
		t.Errorf("epoch %d after a forged meta of epoch 7", e)
	}
}

// A signed record stays valid: published again later (a replay), an
// older record of a path is refused, whether the replica applied a newer
// state of the path or a deletion of it or of an ancestor.
func TestReplayedRecordsAreRefused(t *testing.T) {
	b := jstest.RunJetStream(t)
	nc := jstest.Connect(t, b)
	pub := newPublisher(t, nc)
	src, trust := newSigner(t, (*sign.Signer).PublicKey)
	pub.signed(src, wire.MetaSubject(folder), wire.EncodeMeta(wire.Meta{Epoch: 1, Source: "test"}))
	mt := time.Unix(1700000000, 0)
	at := func(r wire.Record, t0 int64) (string, []byte) {
		r.Epoch, r.Time = 1, t0
		data, err := wire.EncodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		return wire.StateSubject(folder, r.Path), data
	}
	file := func(path, content string) wire.Record {
		return wire.Record{Path: path, Type: wire.File, Mode: 0o644, MTime: mt.UnixNano(), Size: int64(len(content)),
			Hash: wire.Sum([]byte(content)), Data: wire.EncodeChunk(nil, []byte(content), wire.NoCompression)}
	}
	base := time.Now().UnixNano()
	oldSubj, old := at(file("f", "version 1"), base)
	pub.signed(src, oldSubj, old)
	pub.signed(src, oldSubj, func() []byte { _, d := at(file("f", "version 2"), base+10); return d }())
	dirSubj, dir := at(wire.Record{Path: "d", Type: wire.Dir, Mode: 0o755, MTime: mt.UnixNano()}, base+1)
	pub.signed(src, dirSubj, dir)
	inSubj, in := at(file("d/g", "in d"), base+2)
	pub.signed(src, inSubj, in)
	tombSubj, tomb := at(wire.Record{Path: "d", Type: wire.Deleted}, base+20)
	pub.signed(src, tombSubj, tomb)

	reg := prometheus.NewRegistry()
	root := t.TempDir()
	r, stop, _ := startReplica(t, nc, root, t.TempDir(), withRegistry(reg), func(c *Config) { c.SourceKey = trust })
	defer stop()
	jstest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(root, "d"))
		return fileIs(root, "f", []byte("version 2"), 0o644, mt)() && os.IsNotExist(err) && r.Progress().Settled
	}, "the signed records were not applied")

	// The replays: f's first version, and d/g, deleted with d since.
	pub.signed(src, oldSubj, old)
	pub.signed(src, inSubj, in)
	jstest.Eventually(t, 10*time.Second, func() bool {
		return counter(t, reg, "jetsync_replica_errors_total", "kind", "replayed") >= 2 && r.Progress().Settled
	}, "the replays were not refused")
	if !fileIs(root, "f", []byte("version 2"), 0o644, mt)() {
		t.Error("a replayed record took f back to its first version")
	}
	if _, err := os.Lstat(filepath.Join(root, "d/g")); err == nil {
		t.Error("a replayed record brought back d/g, deleted with d")
	}

	// The source's next record of f, newer, is applied.
	subj, next := at(file("f", "version 3"), time.Now().UnixNano())
	pub.signed(src, subj, next)
	jstest.Eventually(t, 10*time.Second, fileIs(root, "f", []byte("version 3"), 0o644, mt), "a newer record was not applied")
}

// newSigner makes a source's signing key and the replica's trust in it,
// given as trustedAs says (its fingerprint or its public key).
func newSigner(t *testing.T, trustedAs func(*sign.Signer) string) (*sign.Signer, *sign.Verifier) {
	t.Helper()
	s, _, err := sign.LoadOrCreate(filepath.Join(t.TempDir(), "source.key"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.ParseTrust(trustedAs(s))
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}
