//go:build linux

package hostile

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
)

// publisher is the hostile publisher: the test's own connection to the
// broker, with the rights a source has. It remembers what it published so
// that a case can take it back (clear): paths it gave a live state get a
// tombstone, subjects it put junk on are purged.
type publisher struct {
	js     jetstream.JetStream
	folder string
	live   map[string]bool // paths given a live state since the last clear
	junk   map[string]bool // state subjects given junk since the last clear
	epoch0 uint64          // the epoch of the last folder meta that decoded
}

func newPublisher(t *testing.T, url, folder string) *publisher {
	return &publisher{js: harness.DialJetStream(t, url), folder: folder, live: map[string]bool{}, junk: map[string]bool{}}
}

// opTimeout bounds each request to the broker.
const opTimeout = 10 * time.Second

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// state is the folder's state stream.
func (p *publisher) state(t testing.TB) jetstream.Stream {
	t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	st, err := p.js.Stream(ctx, wire.StreamName(p.folder))
	harness.Must(t, err)
	return st
}

// cache is the folder's content cache stream.
func (p *publisher) cache(t testing.TB) jetstream.Stream {
	t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	st, err := p.js.Stream(ctx, wire.CacheStreamName(p.folder))
	harness.Must(t, err)
	return st
}

// send publishes data on subject with an acknowledgement and returns its
// stream sequence.
func (p *publisher) send(t testing.TB, subject string, data []byte) uint64 {
	t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	ack, err := p.js.Publish(ctx, subject, data)
	if err != nil {
		t.Fatalf("publish %d bytes on %s: %v", len(data), subject, err)
	}
	return ack.Sequence
}

// junkOn publishes data on a state subject, to be purged by clear.
func (p *publisher) junkOn(t testing.TB, subject string, data []byte) uint64 {
	t.Helper()
	p.junk[subject] = true
	return p.send(t, subject, data)
}

// raw publishes data as the state of path, on path's subject; clear
// gives the path a tombstone.
func (p *publisher) raw(t testing.TB, path string, data []byte) uint64 {
	t.Helper()
	p.live[path] = true
	return p.send(t, wire.StateSubject(p.folder, path), data)
}

// record publishes r as its path's state, encoded as docs/PROTOCOL.md
// describes it but without the checks the source's encoder makes, so
// that records a source never sends can be sent.
func (p *publisher) record(t testing.TB, r *wire.Record) uint64 {
	t.Helper()
	b := encodeUnchecked(t, r)
	if r.Type == wire.Deleted {
		delete(p.live, r.Path)
		return p.send(t, wire.StateSubject(p.folder, r.Path), b)
	}
	return p.raw(t, r.Path, b)
}

// encodeUnchecked is the wire form of r (the fields of record version
// 3), whatever r holds.
func encodeUnchecked(t testing.TB, r *wire.Record) []byte {
	t.Helper()
	j := struct {
		V        int             `json:"v"`
		Epoch    uint64          `json:"epoch"`
		Path     string          `json:"path"`
		Type     wire.Type       `json:"type"`
		Mode     uint32          `json:"mode"`
		MTime    int64           `json:"mtime"`
		Size     int64           `json:"size,omitempty"`
		Hash     *wire.Hash      `json:"hash,omitempty"`
		Chunks   []wire.ChunkRef `json:"chunks,omitempty"`
		Manifest []wire.ChunkRef `json:"manifest,omitempty"`
		Target   string          `json:"target,omitempty"`
		Time     int64           `json:"time"`
		Cached   bool            `json:"cached,omitempty"`
	}{V: wire.RecordVersion, Epoch: r.Epoch, Path: r.Path, Type: r.Type, Mode: r.Mode, MTime: r.MTime, Size: r.Size,
		Chunks: r.Chunks, Manifest: r.Manifest, Target: r.Target, Time: r.Time, Cached: r.Cached}
	if r.Type == wire.File {
		j.Hash = &r.Hash
	}
	b, err := json.Marshal(&j)
	harness.Must(t, err)
	if r.Data != nil {
		b = append(append(b, '\n'), r.Data...)
	}
	return b
}

// chunk puts payload into the content cache under hash h, whatever it
// holds.
func (p *publisher) chunk(t testing.TB, h wire.Hash, payload []byte) {
	t.Helper()
	p.send(t, wire.ChunkSubject(p.folder, h), payload)
}

// lastState returns the latest message on path's state subject.
func (p *publisher) lastState(t testing.TB, path string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	m, err := p.state(t).GetLastMsgForSubject(ctx, wire.StateSubject(p.folder, path))
	harness.Must(t, err)
	return m
}

// metaBytes returns the folder meta as it is on the broker.
func (p *publisher) metaBytes(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	m, err := p.state(t).GetLastMsgForSubject(ctx, wire.MetaSubject(p.folder))
	harness.Must(t, err)
	return m.Data
}

// meta returns the folder meta as a JSON object, to be edited and sent
// back with sendMeta: fields this test does not know are kept.
func (p *publisher) meta(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(p.metaBytes(t), &m); err != nil {
		t.Fatalf("the folder meta is not a JSON object: %v", err)
	}
	return m
}

// sendMeta publishes m as the folder meta, stamped now.
func (p *publisher) sendMeta(t testing.TB, m map[string]any) uint64 {
	t.Helper()
	m = maps.Clone(m)
	m["time"] = time.Now().UnixNano()
	b, err := json.Marshal(m)
	harness.Must(t, err)
	return p.send(t, wire.MetaSubject(p.folder), b)
}

// epochOf reads the epoch of a folder meta edited as JSON.
func epochOf(m map[string]any) uint64 {
	e, _ := m["epoch"].(float64)
	return uint64(e)
}

// epoch is the source's epoch as the folder meta says, or the last one
// read while the meta does not decode: the epoch the test's records
// carry, as a source's would.
func (p *publisher) epoch(t testing.TB) uint64 {
	t.Helper()
	if m, err := wire.DecodeMeta(p.metaBytes(t)); err == nil {
		p.epoch0 = m.Epoch
	}
	return p.epoch0
}

// clear takes back what the publisher sent since the last clear: junk
// subjects are purged, paths with a live state get a tombstone, deepest
// first. Errors are logged: it runs in cleanups.
func (p *publisher) clear(t testing.TB) {
	t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	st, err := p.js.Stream(ctx, wire.StreamName(p.folder))
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for subject := range p.junk {
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			t.Logf("cleanup: purge %s: %v", subject, err)
		}
	}
	clear(p.junk)
	paths := slices.Collect(maps.Keys(p.live))
	slices.SortFunc(paths, func(a, b string) int {
		if d := strings.Count(b, "/") - strings.Count(a, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, path := range paths {
		b, err := wire.EncodeRecord(tombstone(path, p.epoch0))
		if err == nil {
			_, err = p.js.Publish(ctx, wire.StateSubject(p.folder, path), b)
		}
		if err != nil {
			t.Logf("cleanup: tombstone %s: %v", path, err)
		}
	}
	clear(p.live)
}

// forget drops path from what clear takes back: its latest state is the
// real source's now.
func (p *publisher) forget(path string) { delete(p.live, path) }

// inlineFile is a valid record of a file of content carried inline.
func inlineFile(path string, content []byte, epoch uint64) *wire.Record {
	now := time.Now().UnixNano()
	return &wire.Record{Epoch: epoch, Path: path, Type: wire.File, Mode: 0o644, MTime: now,
		Size: int64(len(content)), Hash: wire.Sum(content), Data: wire.EncodeChunk(nil, content, wire.NoCompression), Time: now}
}

// chunkedFile is a valid record of a file of content as one chunk, to be
// fetched from the cache (cached) or the source.
func chunkedFile(path string, content []byte, epoch uint64, cached bool) *wire.Record {
	now := time.Now().UnixNano()
	h := wire.Sum(content)
	return &wire.Record{Epoch: epoch, Path: path, Type: wire.File, Mode: 0o644, MTime: now, Size: int64(len(content)),
		Hash: h, Chunks: []wire.ChunkRef{{Hash: h, Size: uint32(len(content))}}, Cached: cached, Time: now}
}

// dirRecord is a valid record of a directory.
func dirRecord(path string, mode uint32, epoch uint64) *wire.Record {
	now := time.Now().UnixNano()
	return &wire.Record{Epoch: epoch, Path: path, Type: wire.Dir, Mode: mode, MTime: now, Time: now}
}

// symlinkRecord is a valid record of a symlink.
func symlinkRecord(path, target string, epoch uint64) *wire.Record {
	now := time.Now().UnixNano()
	return &wire.Record{Epoch: epoch, Path: path, Type: wire.Symlink, Mode: 0o777, MTime: now, Target: target, Time: now}
}

// tombstone is a valid record of a deleted path.
func tombstone(path string, epoch uint64) *wire.Record {
	return &wire.Record{Epoch: epoch, Path: path, Type: wire.Deleted, Time: time.Now().UnixNano()}
}
