package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// scanAll collects the sequences and subjects Scan hands over.
func scanAll(t *testing.T, js jetstream.JetStream, filter string, from, through uint64) ([]uint64, []string) {
	t.Helper()
	var seqs []uint64
	var subjects []string
	err := bus.Scan(ctxT(t), js.Conn(), wire.StreamName("f"), filter, from, through, func(m *bus.ScanMsg) error {
		seqs = append(seqs, m.Sequence)
		subjects = append(subjects, m.Subject)
		if want := fmt.Sprint("v", m.Sequence); string(m.Data) != want || m.Time.IsZero() {
			t.Errorf("message %d: data %q time %v", m.Sequence, m.Data, m.Time)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return seqs, subjects
}

func TestScan(t *testing.T) {
	old := bus.ScanBatch
	bus.ScanBatch = 3 // several batches, one ending exactly at the last message
	t.Cleanup(func() { bus.ScanBatch = old })
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bus.EnsureStream(ctxT(t), js, "f", bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := scanAll(t, js, wire.StateFilter("f"), 1, 0); len(seqs) != 0 {
		t.Fatalf("empty stream: scanned %v", seqs)
	}
	// Nine paths, the meta in between, and path 0 written again: its
	// first message is gone, as the stream keeps one per subject.
	for i := range 9 {
		subj := wire.StateSubject("f", fmt.Sprint(i))
		if i == 4 {
			subj = wire.MetaSubject("f")
		}
		seq := uint64(i + 1)
		if _, err := js.Publish(ctxT(t), subj, []byte(fmt.Sprint("v", seq))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctxT(t), wire.StateSubject("f", "0"), []byte("v10")); err != nil {
		t.Fatal(err)
	}
	seqs, subjects := scanAll(t, js, wire.StateFilter("f"), 1, 0)
	if fmt.Sprint(seqs) != "[2 3 4 6 7 8 9 10]" {
		t.Errorf("whole stream: scanned %v", seqs)
	}
	if subjects[len(subjects)-1] != wire.StateSubject("f", "0") {
		t.Errorf("last subject %s", subjects[len(subjects)-1])
	}
	if seqs, _ := scanAll(t, js, wire.StateFilter("f"), 4, 8); fmt.Sprint(seqs) != "[4 6 7 8]" {
		t.Errorf("from 4 through 8: scanned %v", seqs)
	}
	if seqs, _ := scanAll(t, js, wire.MetaSubject("f"), 1, 0); fmt.Sprint(seqs) != "[5]" {
		t.Errorf("meta: scanned %v", seqs)
	}
	if seqs, _ := scanAll(t, js, wire.StateFilter("f"), 11, 0); len(seqs) != 0 {
		t.Errorf("past the end: scanned %v", seqs)
	}
}

func TestScanStopsOnError(t *testing.T) {
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bus.EnsureStream(ctxT(t), js, "f", bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctxT(t), wire.StateSubject("f", fmt.Sprint(i)), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	stop := fmt.Errorf("stop")
	n := 0
	err = bus.Scan(ctxT(t), js.Conn(), wire.StreamName("f"), wire.StateFilter("f"), 1, 0, func(*bus.ScanMsg) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("scan returned %v after %d messages, want the callback's error after 2", err, n)
	}
	err = bus.Scan(ctxT(t), js.Conn(), "NO_SUCH_STREAM", ">", 1, 0, func(*bus.ScanMsg) error { return nil })
	if err == nil {
		t.Error("scan of a missing stream succeeded")
	}
}

func TestStatusBucketRefusesRollups(t *testing.T) {
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := bus.StatusKV(ctxT(t), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.PutStatus(ctxT(t), kv, bus.ReplicaKey("f", "a"), bus.ReplicaStatus{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	rollup := nats.NewMsg("$KV." + bus.StatusBucket + "." + bus.ReplicaKey("f", "b"))
	rollup.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupAll)
	if _, err := js.PublishMsg(ctxT(t), rollup); err == nil {
		t.Fatal("a rollup was accepted by the status bucket")
	}
	if _, err := kv.Get(ctxT(t), bus.ReplicaKey("f", "a")); err != nil {
		t.Errorf("another key after a refused rollup: %v", err)
	}
}

func TestSecureStatusBucket(t *testing.T) {
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.SecureStatusBucket(ctxT(t), js); err != nil {
		t.Fatalf("without a bucket: %v", err)
	}
	// A bucket as releases before made it: a plain KV bucket.
	if _, err := js.CreateKeyValue(ctxT(t), jetstream.KeyValueConfig{Bucket: bus.StatusBucket}); err != nil {
		t.Fatal(err)
	}
	if err := bus.SecureStatusBucket(ctxT(t), js); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctxT(t), "KV_"+bus.StatusBucket)
	if err != nil {
		t.Fatal(err)
	}
	if s.CachedInfo().Config.AllowRollup {
		t.Error("the status bucket still allows rollups")
	}
	if _, err := bus.StatusKV(ctxT(t), js, 1); err != nil {
		t.Errorf("open the secured bucket: %v", err)
	}
}
