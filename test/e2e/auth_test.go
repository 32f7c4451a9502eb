package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestLeastPrivilege runs a broker, a source and two replicas of a folder,
// with another folder on the same broker, and then tries, with the
// credentials each role gets, what that role must not do (see
// docs/SECURITY.md): without credentials nothing; a third replica's
// credentials cannot publish state, purge, delete or change the streams,
// touch the other replicas' consumers or status, or reach the other
// folder; monitoring changes nothing; the source touches no replica. The
// streams, consumers and status entries are as they were afterwards, and
// the replicas still follow the source.
func TestLeastPrivilege(t *testing.T) {
	t.Parallel()
	const folder, other = "auth-e2e", "auth-other"
	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(31)))
	harness.WriteFile(t, filepath.Join(src, "keep.txt"), "what a forged tombstone would delete\n", 0o644)
	tr := harness.StartTrio(t, folder, src)
	dst2 := filepath.Join(t.TempDir(), "dst2")
	harness.StartReplica(t, "replica2", tr.URL, folder, dst2, filepath.Join(t.TempDir(), "replica2-data"), "r2")
	harness.Converge(t, 2*time.Minute, tr.URL, folder, src, tr.Dst, dst2)

	admin := harness.DialJetStream(t, tr.URL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err := bus.EnsureStream(ctx, admin, other, bus.StreamOptions{})
	harness.Must(t, err)
	_, err = admin.Publish(ctx, wire.StateSubject(other, "keep.txt"), []byte("{}"))
	harness.Must(t, err)
	streams := []string{wire.StreamName(folder), wire.CacheStreamName(folder), wire.StreamName(other)}
	before := map[string]streamSnapshot{}
	for _, s := range streams {
		before[s] = snapshot(t, admin, s)
	}

	t.Run("without credentials", func(t *testing.T) {
		if nc, err := nats.Connect(tr.URL); err == nil || !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Errorf("connect without credentials over loopback: %v, want an authorization error", err)
		}
		kp, _ := nkeys.CreateUser()
		seed, _ := kp.Seed()
		stranger := filepath.Join(t.TempDir(), "stranger.nk")
		harness.Must(t, os.WriteFile(stranger, append(seed, '\n'), 0o600))
		nk, err := nats.NkeyOptionFromSeed(stranger)
		harness.Must(t, err)
		if nc, err := nats.Connect(tr.URL, nk); err == nil {
			nc.Close()
			t.Error("connected with a key the broker was never given")
		}
	})

	t.Run("replica", func(t *testing.T) {
		id := access.ReplicaOf(folder, "r3")
		a := dialAs(t, tr.URL, harness.Credentials(t, tr.URL, id), id)
		a.refused(replicaTries(t, folder, other, "r3", "r1", "keep.txt")...)
		// What its permissions let through, the broker refuses: a rollup
		// of its own status key that would wipe everyone's.
		rollup := nats.Header{jetstream.MsgRollup: []string{jetstream.MsgRollupAll}}
		own := try{subject: "$KV." + bus.StatusBucket + "." + bus.ReplicaKey(folder, "r3"), data: []byte("{}"), header: rollup}
		if err := a.attempt(own); err == nil {
			t.Error("a rollup of its own status key was stored")
		}
		// Its own consumer made a push consumer delivering the folder's
		// records onto another replica's status key and another folder's
		// state: the broker creates it (no permission can stop that) but
		// delivers nothing into a stream nobody subscribes to.
		state := wire.StreamName(folder)
		for _, to := range []string{"$KV." + bus.StatusBucket + "." + bus.ReplicaKey(folder, "r2"), wire.StateSubject(other, "x")} {
			push := try{subject: api("CONSUMER.CREATE.%s.%s", state, bus.ReplicaConsumer("r3")),
				data: consumerCreate(state, bus.ReplicaConsumer("r3"), to)}
			t.Logf("push consumer to %s: %v", to, a.attempt(push))
			time.Sleep(time.Second)
			_ = a.attempt(try{subject: api("CONSUMER.DELETE.%s.%s", state, bus.ReplicaConsumer("r3"))})
		}
	})

	t.Run("monitor", func(t *testing.T) {
		id := access.MonitorID()
		a := dialAs(t, tr.URL, harness.Credentials(t, tr.URL, id), id)
		state := wire.StreamName(folder)
		a.refused(
			try{what: "publish a tombstone", subject: wire.StateSubject(folder, "keep.txt"), data: tombstone(t, "keep.txt")},
			try{what: "create a consumer", subject: api("CONSUMER.CREATE.%s.watcher", state), data: consumerCreate(state, "watcher", "")},
			try{what: "create a consumer of the status bucket", subject: api("CONSUMER.CREATE.KV_%s.watcher", bus.StatusBucket),
				data: consumerCreate("KV_"+bus.StatusBucket, "watcher", "")},
			try{what: "delete a replica's consumer", subject: api("CONSUMER.DELETE.%s.%s", state, bus.ReplicaConsumer("r1"))},
			try{what: "write a replica's status", subject: "$KV." + bus.StatusBucket + "." + bus.ReplicaKey(folder, "r1"), data: []byte("{}")},
			try{what: "delete the state stream", subject: api("STREAM.DELETE.%s", state)},
			try{what: "purge the state stream", subject: api("STREAM.PURGE.%s", state)},
			try{what: "ask the source for content", subject: wire.ContentSubject(folder), data: []byte("{}")},
			try{what: "read the replicas' replies", subject: access.InboxPrefix(access.ReplicaOf(folder, "r1")) + ".>", sub: true},
		)
		if err := a.attempt(try{subject: api("STREAM.INFO.%s", state)}); err != nil {
			t.Errorf("monitoring cannot read the stream's information: %v", err)
		}
	})

	t.Run("source", func(t *testing.T) {
		id := access.SourceOf(folder)
		a := dialAs(t, tr.URL, harness.Credentials(t, tr.URL, id), id)
		state := wire.StreamName(folder)
		a.refused(
			try{what: "publish into another folder", subject: wire.StateSubject(other, "keep.txt"), data: tombstone(t, "keep.txt")},
			try{what: "delete a replica's consumer", subject: api("CONSUMER.DELETE.%s.%s", state, bus.ReplicaConsumer("r1"))},
			try{what: "create a consumer", subject: api("CONSUMER.CREATE.%s.%s", state, bus.ReplicaConsumer("r1")),
				data: consumerCreate(state, bus.ReplicaConsumer("r1"), "")},
			try{what: "write a replica's status", subject: "$KV." + bus.StatusBucket + "." + bus.ReplicaKey(folder, "r1"), data: []byte("{}")},
			try{what: "delete its state stream", subject: api("STREAM.DELETE.%s", state)},
			try{what: "change the status bucket", subject: api("STREAM.UPDATE.KV_%s", bus.StatusBucket), data: bus.StatusStreamConfig(1)},
			try{what: "delete the status bucket", subject: api("STREAM.DELETE.KV_%s", bus.StatusBucket)},
			try{what: "read the replicas' replies", subject: access.InboxPrefix(access.ReplicaOf(folder, "r1")) + ".>", sub: true},
		)
	})

	for _, s := range streams {
		if after := snapshot(t, admin, s); !after.same(before[s]) {
			t.Errorf("stream %s changed: %+v, before %+v", s, after, before[s])
		}
	}
	checkReplicasUnharmed(t, admin, folder, "r1", "r2")
	harness.WriteFile(t, filepath.Join(src, "after the attacks.txt"), "still flowing\n", 0o644)
	harness.Converge(t, 2*time.Minute, tr.URL, folder, src, tr.Dst, dst2)
}

// checkReplicasUnharmed checks that the replicas' consumers exist and
// that their status entries are theirs.
func checkReplicasUnharmed(t *testing.T, js jetstream.JetStream, folder string, ids ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, wire.StreamName(folder))
	harness.Must(t, err)
	var names []string
	for n := range s.ConsumerNames(ctx).Name() {
		names = append(names, n)
	}
	kv, err := js.KeyValue(ctx, bus.StatusBucket)
	harness.Must(t, err)
	for _, id := range ids {
		if !slices.Contains(names, bus.ReplicaConsumer(id)) {
			t.Errorf("the consumer of replica %s is gone (consumers: %v)", id, names)
		}
		e, err := kv.Get(ctx, bus.ReplicaKey(folder, id))
		if err != nil {
			t.Errorf("status of replica %s: %v", id, err)
			continue
		}
		var st bus.ReplicaStatus
		if err := json.Unmarshal(e.Value(), &st); err != nil || st.ID != id || !strings.EqualFold(st.Folder, folder) {
			t.Errorf("status of replica %s is not its own: %s", id, e.Value())
		}
	}
}
