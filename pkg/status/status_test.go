package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

func newJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(jstest.Connect(t, jstest.RunJetStream(t)))
	must(t, err)
	return js
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// folderWithState creates a folder stream holding n state records and one
// chunk.
func folderWithState(t *testing.T, js jetstream.JetStream, folder string, n int) {
	t.Helper()
	_, _, err := bus.EnsureStream(ctx(t), js, folder, bus.StreamOptions{})
	must(t, err)
	for i := range n {
		p := "d" + string(rune('a'+i))
		b, err := wire.EncodeRecord(&wire.Record{Path: p, Type: wire.Dir, Mode: 0o755})
		must(t, err)
		_, err = js.Publish(ctx(t), wire.StateSubject(folder, p), b)
		must(t, err)
	}
	must(t, bus.EnsureCache(ctx(t), js, folder, 64<<20, 1))
	_, err = js.Publish(ctx(t), wire.ChunkSubject(folder, wire.Sum([]byte("x"))), wire.EncodeChunk(nil, []byte("x"), wire.NoCompression))
	must(t, err)
}

func put(t *testing.T, kv jetstream.KeyValue, key string, v any) {
	t.Helper()
	must(t, bus.PutStatus(ctx(t), kv, key, v))
}

func TestCollectWithoutStatusBucket(t *testing.T) {
	js := newJS(t)
	folderWithState(t, js, "photos", 3)

	for _, folder := range []string{"", "photos"} {
		got, err := Collect(ctx(t), js, folder)
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("Collect(%q) = %+v, want one folder", folder, got)
		}
		f := got[0]
		// The chunk is in the content cache, not in the state stream.
		want := StreamStats{Messages: 3, LastSeq: 3, Subjects: 3, Bytes: f.Stream.Bytes}
		if f.Folder != "photos" || f.Stream != want || f.Stream.Bytes == 0 || f.NoStream {
			t.Errorf("Collect(%q) stream = %+v", folder, f)
		}
		if f.Cache == nil || f.Cache.Messages != 1 || f.Cache.Bytes == 0 {
			t.Errorf("Collect(%q) stream = %+v", folder, f)
		}
		if f.Source != nil || f.Replicas == nil || len(f.Replicas) != 0 {
			t.Errorf("Collect(%q) daemons = %+v / %+v, want none", folder, f.Source, f.Replicas)
		}
	}
	if _, err := bus.StatusKV(ctx(t), js, 1); err != nil {
		t.Fatal(err) // reading must not have created the bucket, creating it now must work
	}
}

func TestCollect(t *testing.T) {
	js := newJS(t)
	folderWithState(t, js, "photos", 2)
	folderWithState(t, js, "photos2", 1)
	kv, err := bus.StatusKV(ctx(t), js, 1)
	must(t, err)
	src := bus.SourceStatus{V: 1, ID: "nas1", Folder: "photos", State: "live", Files: 1200, Dirs: 30,
		Bytes: 5 << 30, LastSeq: 3, Watched: 30, Updated: 7}
	put(t, kv, bus.SourceKey("photos"), src)
	put(t, kv, bus.ReplicaKey("photos", "nas3"), bus.ReplicaStatus{V: 1, ID: "nas3", AppliedSeq: 1, Pending: 2})
	put(t, kv, bus.ReplicaKey("photos", "nas2"), bus.ReplicaStatus{V: 1, ID: "nas2", AppliedSeq: 3, LagSeconds: 0.5})
	put(t, kv, bus.ReplicaKey("photos2", "nas2"), bus.ReplicaStatus{V: 1, ID: "nas2", AppliedSeq: 2})
	put(t, kv, bus.ReplicaKey("orphan", "early"), bus.ReplicaStatus{V: 1, ID: "early", State: "reconciling"})
	_, err = kv.Put(ctx(t), bus.ReplicaKey("photos2", "broken"), []byte("{garbage"))
	must(t, err)

	all, err := Collect(ctx(t), js, "")
	must(t, err)
	if names := folderNames(all); names != "orphan photos photos2" {
		t.Fatalf("folders = %s", names)
	}
	if o := all[0]; !o.NoStream || len(o.Replicas) != 1 || o.Replicas[0].ReportedState != "reconciling" ||
		o.Replicas[0].State != StateOffline { // its report has no time
		t.Errorf("orphan = %+v", o)
	}
	p2 := all[2]
	if len(p2.Replicas) != 2 || p2.Replicas[0].ID != "broken" || p2.Replicas[0].State != "unreadable" || p2.Replicas[0].LastError == "" {
		t.Errorf("photos2 replicas = %+v", p2.Replicas)
	}

	one, err := Collect(ctx(t), js, "photos")
	must(t, err)
	if len(one) != 1 {
		t.Fatalf("Collect(photos) = %+v", one)
	}
	p := one[0]
	if p.Source == nil || *p.Source != src {
		t.Errorf("source = %+v, want %+v", p.Source, src)
	}
	if len(p.Replicas) != 2 || p.Replicas[0].ID != "nas2" || p.Replicas[1].ID != "nas3" || p.Replicas[1].Pending != 2 {
		t.Errorf("replicas = %+v, want nas2 then nas3, and nothing of photos2", p.Replicas)
	}
	if p.Stream.LastSeq != 2 || p.NoStream {
		t.Errorf("stream = %+v", p.Stream)
	}
	if _, err := json.Marshal(all); err != nil {
		t.Errorf("marshal: %v", err)
	}
}

func TestCollectUnknownFolder(t *testing.T) {
	js := newJS(t)
	folderWithState(t, js, "photos", 1)
	if _, err := Collect(ctx(t), js, "nope"); !errors.Is(err, bus.ErrNoFolder) {
		t.Fatalf("err = %v, want ErrNoFolder", err)
	}
	got, err := Collect(ctx(t), newJS(t), "")
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("empty broker: %+v", got)
	}
	var buf bytes.Buffer
	WriteText(&buf, got, time.Now())
	if !strings.Contains(buf.String(), "no folders") {
		t.Errorf("empty text = %q", buf.String())
	}
}

func TestWriteText(t *testing.T) {
	now := time.Unix(1700000000, 0)
	at := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	fs := []FolderStatus{{
		Folder: "photos",
		Stream: StreamStats{Messages: 1234567, Bytes: 3 << 30, LastSeq: 1300000, Subjects: 1234000},
		Source: &bus.SourceStatus{ID: "nas1", State: "live", Files: 1200000, Dirs: 45000, Bytes: 5 << 40,
			LastSeq: 1300000, LastChange: at(90 * time.Second), Watched: 8192, WatchCapped: true,
			Errors: 2, LastError: "scan a/b:\npermission denied", Updated: at(2 * time.Second)},
		Replicas: []Replica{
			{ReplicaStatus: bus.ReplicaStatus{ID: "nas2", State: "stuck", AppliedSeq: 1299990, Pending: 10, LagSeconds: 12.5,
				Updated: at(5 * time.Second), Parked: 12, Stuck: []bus.StuckPath{{Path: "a/x.db", Seq: 1200001,
					Reason: "fetch chunk for a/x.db:\ncontent gone", Since: at(time.Hour), Attempts: 6}}}},
			{ReplicaStatus: bus.ReplicaStatus{ID: "nas3", State: StateOffline, AppliedSeq: 7, Pending: 1299993, LagSeconds: 7200,
				Errors: 1, LastError: "apply x: no space left on device", LastErrorTime: at(5 * time.Minute), Updated: at(3 * time.Minute)},
				ReportedState: "reconciling", OfflineSince: at(3 * time.Minute)},
		},
	}, {Folder: "docs", NoStream: true, Replicas: []Replica{}}}
	var buf bytes.Buffer
	WriteText(&buf, fs, now)
	out := buf.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"folder photos",
		"1,234,567 messages, 3.0 GiB, 1,234,000 subjects, last seq 1300000",
		"nas1: live, 1,200,000 files, 45,000 dirs, 5.0 TiB, last change 1m30s ago, last seq 1300000, updated 2.0s ago\n",
		"watch capped: beyond 8,192 dirs changes are found by the periodic scan",
		"2 errors, last: scan a/b: permission denied",
		"nas2: stuck, applied seq 1299990, pending 10, lag 12.5s, updated 5.0s ago\n",
		"12 stuck paths that cannot be applied yet (retried with backoff):\n",
		"  a/x.db (seq 1200001, since 1h00m ago, 7 attempts): fetch chunk for a/x.db: content gone\n",
		"  and 11 more\n",
		"nas3: offline since 3m00s ago (was reconciling), applied seq 7, pending 1,299,993, lag 2h00m, updated 3m00s ago STALE\n",
		"1 error, last: (5m00s ago) apply x: no space left on device",
		"folder docs\n  stream   none yet",
		"source   none reported",
		"replica  none reported",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "watching") {
		t.Errorf("capped watch also reported as watching")
	}
	if strings.Count(out, "STALE") != 1 {
		t.Errorf("want exactly one STALE mark")
	}
}

func TestHuman(t *testing.T) {
	checks := [][2]string{
		{count(0), "0"}, {count(999), "999"}, {count(1000), "1,000"}, {count(int64(-1234567)), "-1,234,567"},
		{size(0), "0 B"}, {size(1023), "1023 B"}, {size(1536), "1.5 KiB"}, {size(int64(5) << 40), "5.0 TiB"},
		{duration(0), "0s"}, {duration(250 * time.Millisecond), "250ms"}, {duration(4200 * time.Millisecond), "4.2s"},
		{duration(192 * time.Second), "3m12s"}, {duration(125 * time.Minute), "2h05m"}, {duration(76 * time.Hour), "3d4h"},
		{ago(0, time.Now()), "never"}, {ago(time.Now().Add(time.Hour).UnixNano(), time.Now()), "just now"},
	}
	for i, c := range checks {
		if c[0] != c[1] {
			t.Errorf("check %d: got %q, want %q", i, c[0], c[1])
		}
	}
}

func folderNames(fs []FolderStatus) string {
	var names []string
	for _, f := range fs {
		names = append(names, f.Folder)
	}
	return strings.Join(names, " ")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A replica's pending changes and lag come from the stream as well as
// from its report: one that stopped reporting is offline, with what the
// stream holds after its position; one that reports live while old
// changes wait is catching-up.
func TestReplicaViewFromBroker(t *testing.T) {
	js := newJS(t)
	folderWithState(t, js, "photos", 5)
	stream, err := js.Stream(ctx(t), wire.StreamName("photos"))
	must(t, err)
	now := time.Now()
	later := now.Add(time.Minute)

	fresh := bus.ReplicaStatus{ID: "nas2", State: StateLive, AppliedSeq: 5, Updated: later.UnixNano()}
	v, err := replicaView(ctx(t), stream, "photos", fresh, later)
	must(t, err)
	if v.State != StateLive || v.Broker.Pending != 0 || v.LagSeconds != 0 {
		t.Errorf("caught-up replica: %+v", v)
	}

	behind := fresh
	behind.AppliedSeq, behind.Pending, behind.Updated = 2, 3, later.UnixNano()
	v, err = replicaView(ctx(t), stream, "photos", behind, later)
	must(t, err)
	if v.State != StateCatchingUp || v.Broker.Pending != 3 || v.LagSeconds < 55 || v.ReportedState != StateLive {
		t.Errorf("replica a minute behind: %+v", v)
	}

	gone := fresh
	gone.AppliedSeq, gone.Pending, gone.Updated = 1, 0, now.Add(-time.Hour).UnixNano()
	v, err = replicaView(ctx(t), stream, "photos", gone, later)
	must(t, err)
	if v.State != StateOffline || v.OfflineSince != gone.Updated || v.Pending != 4 || v.LagSeconds < 55 {
		t.Errorf("replica silent for an hour: %+v", v)
	}

	// Only the folder meta after the position: nothing pending.
	_, err = js.Publish(ctx(t), wire.MetaSubject("photos"), wire.EncodeMeta(wire.Meta{Epoch: 1}))
	must(t, err)
	stream, err = js.Stream(ctx(t), wire.StreamName("photos"))
	must(t, err)
	v, err = replicaView(ctx(t), stream, "photos", fresh, later)
	must(t, err)
	if v.Broker.Pending != 0 || v.State != StateLive {
		t.Errorf("replica with only the meta after it: %+v", v)
	}
}

func TestCheck(t *testing.T) {
	now := time.Unix(1700000000, 0)
	at := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	healthy := []FolderStatus{{Folder: "photos", Source: &bus.SourceStatus{State: "live", Updated: at(time.Second)},
		Replicas: []Replica{{ReplicaStatus: bus.ReplicaStatus{ID: "nas2", State: StateLive, LagSeconds: 2, Updated: at(time.Second)}}}}}
	if p, sev := Check(healthy, time.Minute, now); sev != OK || len(p) != 0 {
		t.Fatalf("healthy: %v %v", sev, p)
	}
	behind := []FolderStatus{{Folder: "photos", Replicas: []Replica{{ReplicaStatus: bus.ReplicaStatus{ID: "nas2",
		State: StateCatchingUp, LagSeconds: 600, Pending: 1200, Updated: at(time.Second)}}}}}
	if p, sev := Check(behind, time.Minute, now); sev != Warning || len(p) != 1 ||
		p[0].String() != "WARNING: photos replica nas2: lag 10m00s above 1m00s (catching-up, 1,200 pending)" {
		t.Fatalf("behind: %v %v", sev, p)
	}
	if _, sev := Check(behind, 0, now); sev != OK {
		t.Fatalf("behind without a lag limit: %v", sev)
	}
	stuckSource := []FolderStatus{{Folder: "docs", Source: &bus.SourceStatus{State: "cannot-publish", Updated: at(time.Second),
		LastError: "publish folder meta: nats: no response from stream"}}}
	if p, sev := Check(stuckSource, 0, now); sev != Critical || len(p) != 1 ||
		p[0].String() != "CRITICAL: docs source: cannot publish to the broker: publish folder meta: nats: no response from stream" {
		t.Fatalf("source that cannot publish: %v %v", sev, p)
	}
	bad := []FolderStatus{{Folder: "photos", Source: &bus.SourceStatus{State: "live", Updated: at(time.Hour)},
		Replicas: []Replica{
			{ReplicaStatus: bus.ReplicaStatus{ID: "nas2", State: StateOffline, Pending: 7, LagSeconds: 90}, OfflineSince: at(2 * time.Minute)},
			{ReplicaStatus: bus.ReplicaStatus{ID: "nas3", State: StateStuck, Parked: 2, Updated: at(time.Second),
				Stuck: []bus.StuckPath{{Path: "a/b", Reason: "permission denied"}}}},
		}}}
	p, sev := Check(bad, time.Hour, now)
	var lines []string
	for _, x := range p {
		lines = append(lines, x.String())
	}
	want := []string{
		"CRITICAL: photos source: offline, last report 1h00m ago",
		"CRITICAL: photos replica nas2: offline since 2m00s ago, 7 pending, lag 1m30s",
		"CRITICAL: photos replica nas3: 2 paths that cannot be applied; first: a/b: permission denied",
	}
	if sev != Critical || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems (%v):\n%s\nwant:\n%s", sev, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// The source's metrics show every replica from the broker's side: an
// offline one is down with its pending changes, a live one up.
func TestCollectorExportsReplicas(t *testing.T) {
	js := newJS(t)
	folderWithState(t, js, "photos", 4)
	kv, err := bus.StatusKV(ctx(t), js, 1)
	must(t, err)
	now := time.Now()
	put(t, kv, bus.ReplicaKey("photos", "nas2"), bus.ReplicaStatus{V: 1, ID: "nas2", State: StateLive, AppliedSeq: 4, Updated: now.UnixNano()})
	put(t, kv, bus.ReplicaKey("photos", "nas3"), bus.ReplicaStatus{V: 1, ID: "nas3", State: StateLive, AppliedSeq: 1,
		Updated: now.Add(-time.Hour).UnixNano()})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(js, "photos"))
	mfs, err := reg.Gather()
	must(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != "folder" {
					key += "," + l.GetValue()
				}
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"jetsync_folder_replica_up,nas2": 1, "jetsync_folder_replica_up,nas3": 0,
		"jetsync_folder_replica_pending,nas2": 0, "jetsync_folder_replica_pending,nas3": 3,
		"jetsync_folder_replica_state,nas2,live": 1, "jetsync_folder_replica_state,nas3,offline": 1,
		"jetsync_folder_status_errors": 0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if got["jetsync_folder_replica_lag_seconds,nas3"] <= 0 {
		t.Errorf("offline replica's lag: %v", got["jetsync_folder_replica_lag_seconds,nas3"])
	}
	doc, err := os.ReadFile("../../docs/METRICS.md")
	must(t, err)
	for _, mf := range mfs {
		if !strings.Contains(string(doc), "`"+mf.GetName()) {
			t.Errorf("docs/METRICS.md does not list %s", mf.GetName())
		}
	}
}

// A replica's scheduled verify shows in the status, and a difference, a
// failure or an overdue verify in the check.
func TestVerifyInStatusAndCheck(t *testing.T) {
	now := time.Unix(1700000000, 0)
	at := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	day := (24 * time.Hour).Seconds()
	rep := func(id string, v *bus.VerifyResult) Replica {
		return Replica{ReplicaStatus: bus.ReplicaStatus{ID: id, State: StateLive, Updated: at(time.Second),
			LastVerify: v, VerifyEverySeconds: day}}
	}
	fs := []FolderStatus{{Folder: "photos", Replicas: []Replica{
		rep("good", &bus.VerifyResult{Time: at(time.Hour), Equal: true, Files: 1200, Bytes: 5 << 30, DurationSeconds: 600}),
		rep("rot", &bus.VerifyResult{Time: at(time.Hour), Diffs: 3, First: "a/x.jpg (content)", Repairing: true}),
		rep("late", &bus.VerifyResult{Time: at(72 * time.Hour), Equal: true}),
		rep("new", nil),
	}}}
	var buf bytes.Buffer
	WriteText(&buf, fs, now)
	for _, want := range []string{
		"last verify 1h00m ago: equal, 1,200 files, 5.0 GiB, took 10m00s\n",
		"last verify 1h00m ago: DIFFERENT, 3 paths (first: a/x.jpg (content)); repairing\n",
		"no verify yet (every 1d0h)\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, buf.String())
		}
	}
	p, sev := Check(fs, 0, now)
	var lines []string
	for _, x := range p {
		lines = append(lines, x.String())
	}
	want := []string{
		"CRITICAL: photos replica rot: last verify found 3 paths different from the published state (first: a/x.jpg (content))",
		"WARNING: photos replica late: verify overdue: the last one was 3d0h ago, every 1d0h",
	}
	if sev != Critical || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("check (%v):\n%s\nwant:\n%s", sev, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
