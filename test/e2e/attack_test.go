package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// attacker is a plain NATS client with someone's credentials, trying what
// those credentials must not allow. The broker drops what a client may
// not publish or subscribe to and tells it so, asynchronously: a try
// counts as refused when it fails and the broker reported a permissions
// violation for its subject.
type attacker struct {
	t  *testing.T
	nc *nats.Conn

	mu         sync.Mutex
	violations []string
}

// dialAs connects to url with the credentials file creds and the inbox of
// identity id.
func dialAs(t *testing.T, url, creds string, id access.Identity, extra ...nats.Option) *attacker {
	t.Helper()
	a := &attacker{t: t}
	nk, err := nats.NkeyOptionFromSeed(creds)
	harness.Must(t, err)
	opts := append([]nats.Option{nk, nats.Name("attacker " + id.Name()), nats.CustomInboxPrefix(access.InboxPrefix(id)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				a.mu.Lock()
				a.violations = append(a.violations, err.Error())
				a.mu.Unlock()
			}
		})}, extra...)
	a.nc, err = nats.Connect(url, opts...)
	harness.Must(t, err)
	t.Cleanup(a.nc.Close)
	return a
}

// tryWait bounds the wait for the reply to a try: the broker drops a
// refused request and reports it at once, so none comes.
const tryWait = time.Second

// try is one thing an attacker attempts: a request (or a publish waiting
// for JetStream's ack) on subject, or with sub set a subscription to it.
type try struct {
	what    string
	subject string
	data    any // JSON-encoded, or []byte as is
	header  nats.Header
	sub     bool
}

// refused runs the tries at once and fails the test for each one the
// broker let through.
func (a *attacker) refused(tries ...try) {
	a.t.Helper()
	var wg sync.WaitGroup
	results := make([]error, len(tries))
	for i, tr := range tries {
		wg.Go(func() { results[i] = a.attempt(tr) })
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for i, tr := range tries {
		if results[i] == nil {
			a.t.Errorf("%s (%s): allowed", tr.what, tr.subject)
			continue
		}
		for !a.violated(tr) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !a.violated(tr) {
			a.t.Errorf("%s (%s): failed (%v) without a permissions violation", tr.what, tr.subject, results[i])
		}
	}
}

func (a *attacker) violated(tr try) bool {
	kind := "Publish"
	if tr.sub {
		kind = "Subscription"
	}
	want := fmt.Sprintf("%s to %q", kind, tr.subject)
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.violations {
		if strings.Contains(v, want) {
			return true
		}
	}
	return false
}

// attempt makes one try; nil means it got through.
func (a *attacker) attempt(tr try) error {
	if tr.sub {
		sub, err := a.nc.SubscribeSync(tr.subject)
		if err != nil {
			return err
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := a.nc.Flush(); err != nil {
			return err
		}
		// A subscription the broker refused receives nothing; one it
		// accepted may not either, so the violation decides.
		_, err = sub.NextMsg(tryWait)
		return err
	}
	msg := nats.NewMsg(tr.subject)
	msg.Header = tr.header
	switch d := tr.data.(type) {
	case nil:
	case []byte:
		msg.Data = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		msg.Data = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), tryWait)
	defer cancel()
	resp, err := a.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return err
	}
	return apiError(resp)
}

// apiError is the error a JetStream API reply or publish ack carries.
func apiError(resp *nats.Msg) error {
	var r struct {
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if json.Unmarshal(resp.Data, &r) == nil && r.Error != nil {
		return fmt.Errorf("%d %s", r.Error.Code, r.Error.Description)
	}
	if s := resp.Header.Get("Status"); s != "" && s != "200" {
		return fmt.Errorf("status %s %s", s, resp.Header.Get("Description"))
	}
	return nil
}

// api is the subject of a JetStream API call.
func api(format string, args ...any) string { return "$JS.API." + fmt.Sprintf(format, args...) }

// consumerCreate is a request creating (or updating) a consumer named
// name on stream: pull, or push to deliver.
func consumerCreate(stream, name, deliver string) map[string]any {
	return map[string]any{"stream_name": stream, "config": map[string]any{
		"name": name, "deliver_subject": deliver, "ack_policy": "none", "deliver_policy": "all",
		"filter_subject": "jetsync.>", "inactive_threshold": int64(time.Minute)}}
}

// tombstone is a state record deleting path, as a forged one would be.
func tombstone(t *testing.T, path string) []byte {
	t.Helper()
	b, err := wire.EncodeRecord(&wire.Record{Path: path, Type: wire.Deleted, Epoch: 1, Time: time.Now().UnixNano()})
	harness.Must(t, err)
	return b
}

// replicaTries are what replica attackerID of folder must not do to its
// folder, to replica victimID, or to folder other; path is a path of the
// folder.
func replicaTries(t *testing.T, folder, other, attackerID, victimID, path string) []try {
	state, cache, status := wire.StreamName(folder), wire.CacheStreamName(folder), "KV_"+bus.StatusBucket
	victim := bus.ReplicaConsumer(victimID)
	own := bus.ReplicaConsumer(attackerID)
	return []try{
		{what: "publish a tombstone", subject: wire.StateSubject(folder, path), data: tombstone(t, path)},
		{what: "publish the folder meta", subject: wire.MetaSubject(folder), data: []byte(`{"v":2}`)},
		{what: "poison the content cache", subject: wire.ChunkSubject(folder, wire.Hash{}), data: []byte("x")},
		{what: "publish into another folder", subject: wire.StateSubject(other, path), data: tombstone(t, path)},
		{what: "purge the state stream", subject: api("STREAM.PURGE.%s", state)},
		{what: "delete a record", subject: api("STREAM.MSG.DELETE.%s", state), data: map[string]any{"seq": 1}},
		{what: "delete the state stream", subject: api("STREAM.DELETE.%s", state)},
		{what: "change the state stream's limits", subject: api("STREAM.UPDATE.%s", state),
			data: bus.StreamConfig(folder, bus.StreamOptions{MaxBytes: 1})},
		{what: "delete the content cache", subject: api("STREAM.DELETE.%s", cache)},
		{what: "delete the status bucket", subject: api("STREAM.DELETE.%s", status)},
		{what: "purge the status bucket", subject: api("STREAM.PURGE.%s", status)},
		{what: "delete another replica's consumer", subject: api("CONSUMER.DELETE.%s.%s", state, victim)},
		{what: "change another replica's consumer", subject: api("CONSUMER.CREATE.%s.%s", state, victim),
			data: consumerCreate(state, victim, "")},
		{what: "pull from another replica's consumer", subject: api("CONSUMER.MSG.NEXT.%s.%s", state, victim),
			data: map[string]any{"batch": 1, "expires": int64(time.Second)}},
		{what: "create a consumer of another name", subject: api("CONSUMER.CREATE.%s.intruder", state),
			data: consumerCreate(state, "intruder", "")},
		{what: "create a consumer by the legacy subject", subject: api("CONSUMER.CREATE.%s", state),
			data: consumerCreate(state, victim, "")},
		{what: "create a durable consumer by the legacy subject", subject: api("CONSUMER.DURABLE.CREATE.%s.%s", state, victim),
			data: consumerCreate(state, victim, "")},
		{what: "create a consumer on another folder", subject: api("CONSUMER.CREATE.%s.%s", wire.StreamName(other), own),
			data: consumerCreate(wire.StreamName(other), own, "")},
		{what: "read another folder", subject: api("DIRECT.GET.%s", wire.StreamName(other)), data: map[string]any{"seq": 1}},
		{what: "write another replica's status", subject: "$KV." + bus.StatusBucket + "." + bus.ReplicaKey(folder, victimID),
			data: bus.ReplicaStatus{V: 1, ID: victimID, Folder: folder, State: "live", Updated: time.Now().UnixNano()}},
		{what: "write the source's status", subject: "$KV." + bus.StatusBucket + "." + bus.SourceKey(folder),
			data: bus.SourceStatus{V: 1, Folder: folder, State: "live"}},
		{what: "ask another folder's source", subject: wire.ContentSubject(other), data: []byte("{}")},
		{what: "answer content requests as the source", subject: wire.ContentSubject(folder), sub: true},
		{what: "read every inbox", subject: "_INBOX.>", sub: true},
		{what: "read the source's inbox", subject: access.InboxPrefix(access.SourceOf(folder)) + ".>", sub: true},
		{what: "read another folder's replies", subject: access.InboxPrefix(access.ReplicaOf(other, attackerID)) + ".>", sub: true},
		{what: "read every message", subject: ">", sub: true},
	}
}

// streamSnapshot is what the attacks must leave unchanged.
type streamSnapshot struct {
	config            jetstream.StreamConfig
	msgs, last, bytes uint64
}

func snapshot(t *testing.T, js jetstream.JetStream, stream string) streamSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	harness.Must(t, err)
	info := s.CachedInfo()
	return streamSnapshot{config: info.Config, msgs: info.State.Msgs, last: info.State.LastSeq, bytes: info.State.Bytes}
}

func (s streamSnapshot) same(o streamSnapshot) bool {
	return s.msgs == o.msgs && s.last == o.last && s.bytes == o.bytes &&
		s.config.MaxBytes == o.config.MaxBytes && s.config.MaxMsgs == o.config.MaxMsgs &&
		s.config.MaxMsgsPerSubject == o.config.MaxMsgsPerSubject && s.config.MaxAge == o.config.MaxAge
}
