package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

func TestMain(m *testing.M) {
	// Faster than production so fault tests finish quickly; the logic is
	// the same.
	brokerCheckInterval = time.Second
	statusInterval = 200 * time.Millisecond
	retryMin = 200 * time.Millisecond
	cannotPublishAfter = time.Second
	os.Exit(m.Run())
}

// fixture is one folder: a tree, a data dir and a broker connection.
type fixture struct {
	t      testing.TB
	nc     *nats.Conn
	js     jetstream.JetStream
	root   string
	data   string
	folder string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	b := jstest.RunJetStream(t)
	return newFixtureOn(t, jstest.Connect(t, b))
}

func newFixtureOn(t testing.TB, nc *nats.Conn) *fixture {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, nc: nc, js: js, root: t.TempDir(), data: t.TempDir(), folder: "f1"}
}

// running is a source started by fixture.start.
type running struct {
	src    *Source
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func (f *fixture) config() Config {
	return Config{Folder: f.folder, Root: f.root, DataDir: f.data, Logger: testLogger(f.t)}
}

func (f *fixture) start(mods ...func(*Config, *Source)) *running {
	f.t.Helper()
	cfg := f.config()
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	src, err := New(cfg, f.nc, f.js)
	if err != nil {
		f.t.Fatalf("new source: %v", err)
	}
	for _, m := range mods {
		m(&src.cfg, src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx) }()
	f.t.Cleanup(func() { r.stop(f.t) })
	return r
}

// manual sets up a source whose steps the test drives by hand: the index
// is open, the ack reaper and the committer run and the broker state is
// recovered, but there is no watcher, control loop or worker.
func (f *fixture) manual() *Source {
	f.t.Helper()
	s, err := New(f.config(), f.nc, f.js)
	must(f.t, err)
	s.ix, err = index.Open(IndexPath(s.cfg.DataDir, s.cfg.Folder))
	must(f.t, err)
	f.t.Cleanup(func() { s.ix.Close() })
	f.t.Cleanup(s.startPipeline(context.Background())) // runs before the index closes
	_, err = s.recover(context.Background())
	must(f.t, err)
	return s
}

// stop cancels the source and checks that Run returns nil promptly.
func (r *running) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("source run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("source did not stop")
	}
}

// waitIdle waits for the initial scan and for every publish to settle.
func (r *running) waitIdle(t testing.TB) {
	t.Helper()
	jstest.Eventually(t, 30*time.Second, func() bool {
		p := r.src.Progress()
		return p.InitialScanDone && p.PendingFiles == 0 && p.State == StateLive
	}, "source not idle: %+v", r.src.Progress())
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("JETSYNC_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Tree fixtures: paths ending in "/" are directories.
type node struct {
	data   string
	mode   fs.FileMode
	target string
}

type tree map[string]node

func file(data string) node   { return node{data: data, mode: 0o644} }
func dir() node               { return node{mode: 0o755} }
func link(target string) node { return node{target: target} }

func (tr tree) create(t *testing.T, root string) {
	t.Helper()
	paths := make([]string, 0, len(tr))
	for p := range tr {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := tr[p]
		abs := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(p, "/")))
		must(t, os.MkdirAll(filepath.Dir(abs), 0o755))
		switch {
		case strings.HasSuffix(p, "/"):
			must(t, os.MkdirAll(abs, n.mode))
			must(t, os.Chmod(abs, n.mode))
		case n.target != "":
			must(t, os.Symlink(n.target, abs))
		default:
			must(t, os.WriteFile(abs, []byte(n.data), n.mode))
			must(t, os.Chmod(abs, n.mode))
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) stream() jetstream.Stream {
	f.t.Helper()
	st, err := f.js.Stream(context.Background(), wire.StreamName(f.folder))
	if err != nil {
		f.t.Fatalf("open stream: %v", err)
	}
	return st
}

func (f *fixture) lastSeq() uint64 {
	f.t.Helper()
	info, err := f.stream().Info(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return info.State.LastSeq
}

// record returns the latest record of p, nil if there is none.
func (f *fixture) record(p string) *wire.Record {
	f.t.Helper()
	msg, err := f.stream().GetLastMsgForSubject(context.Background(), wire.StateSubject(f.folder, p))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		f.t.Fatalf("get record %q: %v", p, err)
	}
	rec, err := wire.DecodeRecord(msg.Data)
	if err != nil {
		f.t.Fatalf("decode record %q: %v", p, err)
	}
	return rec
}

func (f *fixture) meta() wire.Meta {
	f.t.Helper()
	msg, err := f.stream().GetLastMsgForSubject(context.Background(), wire.MetaSubject(f.folder))
	if err != nil {
		f.t.Fatalf("get meta: %v", err)
	}
	m, err := wire.DecodeMeta(msg.Data)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// records reads the latest record of every path with an ordered consumer.
func (f *fixture) records() (map[string]*wire.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := f.js.Stream(ctx, wire.StreamName(f.folder))
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(wire.StateFilter(f.folder)))
	if err != nil {
		return nil, err
	}
	want := len(info.State.Subjects)
	out := make(map[string]*wire.Record, want)
	if want == 0 {
		return out, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{wire.StateFilter(f.folder)}})
	if err != nil {
		return nil, err
	}
	for seen := 0; seen < want; {
		batch, err := cons.Fetch(want-seen, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			rec, err := wire.DecodeRecord(msg.Data())
			if err != nil {
				return nil, err
			}
			out[rec.Path] = rec
		}
		if n == 0 {
			return nil, fmt.Errorf("fetch records: %v", batch.Error())
		}
		seen += n
	}
	return out, nil
}

// content asks the source's content service for one hash of path, as a
// replica does, and returns the reply's item with the decoded content.
func (f *fixture) content(kind byte, path string, h wire.Hash) (wire.ContentItem, []byte, error) {
	f.t.Helper()
	req, err := wire.EncodeContentRequest(wire.ContentRequest{Kind: kind, Path: path, Limit: 1 << 20, Hashes: []wire.Hash{h}})
	if err != nil {
		return wire.ContentItem{}, nil, err
	}
	msg, err := f.nc.Request(wire.ContentSubject(f.folder), req, 5*time.Second)
	if err != nil {
		return wire.ContentItem{}, nil, err
	}
	items, err := wire.DecodeContentReply(msg.Data, 1)
	if err != nil {
		return wire.ContentItem{}, nil, err
	}
	if items[0].Status != wire.ContentOK {
		return items[0], nil, fmt.Errorf("status %d", items[0].Status)
	}
	data, err := wire.DecodeChunk(nil, items[0].Payload, h)
	return items[0], data, err
}

func (f *fixture) hasChunk(path string, h wire.Hash) bool {
	f.t.Helper()
	_, _, err := f.content(wire.ContentChunks, path, h)
	return err == nil
}

// diff compares the published state with the tree and returns "" when
// every path on disk has a matching record whose chunks are on the broker
// and every other record is a tombstone.
func (f *fixture) diff() string {
	recs, err := f.records()
	if err != nil {
		return "read records: " + err.Error()
	}
	var problems []string
	if r := recs[wire.RootPath]; r != nil {
		// The folder root's own record: its mode and mtime.
		if fi, err := os.Stat(f.root); err == nil && (r.Mode != wire.ModeBits(fi.Mode()) || r.MTime != fi.ModTime().UnixNano()) {
			problems = append(problems, fmt.Sprintf("the root published as %o %d, is %o %d",
				r.Mode, r.MTime, wire.ModeBits(fi.Mode()), fi.ModTime().UnixNano()))
		}
		delete(recs, wire.RootPath)
	}
	err = filepath.WalkDir(f.root, func(abs string, d fs.DirEntry, err error) error {
		if err != nil || abs == f.root {
			return err
		}
		p := filepath.ToSlash(strings.TrimPrefix(abs, f.root+string(filepath.Separator)))
		if strings.HasPrefix(d.Name(), wire.TempPrefix) {
			return nil
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			return err
		}
		if msg := f.compare(p, fi, recs[p]); msg != "" {
			problems = append(problems, msg)
		}
		delete(recs, p)
		return nil
	})
	if err != nil {
		return err.Error()
	}
	for p, r := range recs {
		if r.Type != wire.Deleted {
			problems = append(problems, fmt.Sprintf("%s: published as %s but not on disk", p, r.Type))
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "\n")
}

func (f *fixture) compare(p string, fi fs.FileInfo, r *wire.Record) string {
	st := statOf(fi)
	switch {
	case st.Type == "":
		if r != nil && r.Type != wire.Deleted {
			return p + ": special file published"
		}
		return ""
	case r == nil:
		return p + ": no record"
	case r.Type != st.Type:
		return fmt.Sprintf("%s: record type %s, disk %s", p, r.Type, st.Type)
	case r.MTime != st.MTime:
		return fmt.Sprintf("%s: record mtime %d, disk %d", p, r.MTime, st.MTime)
	case st.Type != wire.Symlink && r.Mode != st.Mode:
		return fmt.Sprintf("%s: record mode %o, disk %o", p, r.Mode, st.Mode)
	case st.Type == wire.Symlink:
		target, _ := os.Readlink(filepath.Join(f.root, p))
		if r.Target != target {
			return fmt.Sprintf("%s: record target %q, disk %q", p, r.Target, target)
		}
	case st.Type == wire.File:
		return f.compareFile(p, r)
	}
	return ""
}

func (f *fixture) compareFile(p string, r *wire.Record) string {
	data, err := os.ReadFile(filepath.Join(f.root, p))
	if err != nil {
		return err.Error()
	}
	if r.Size != int64(len(data)) || r.Hash != wire.Sum(data) {
		return fmt.Sprintf("%s: record size %d hash %s, disk %d %s", p, r.Size, r.Hash, len(data), wire.Sum(data))
	}
	if r.Data != nil {
		got, err := wire.DecodeChunk(nil, r.Data, r.Hash)
		if err != nil || !bytes.Equal(got, data) {
			return fmt.Sprintf("%s: inline content does not match the file (%v)", p, err)
		}
		if len(r.Chunks)+len(r.Manifest) > 0 || len(data) > wire.InlineSize {
			return fmt.Sprintf("%s: inline content with chunks, or for %d bytes", p, len(data))
		}
	}
	refs := r.Chunks
	for _, m := range r.Manifest {
		_, blob, err := f.content(wire.ContentManifest, p, m.Hash)
		if err != nil {
			return fmt.Sprintf("%s: manifest blob not served: %v", p, err)
		}
		refs, err = wire.DecodeManifest(refs, blob)
		if err != nil {
			return fmt.Sprintf("%s: manifest blob: %v", p, err)
		}
	}
	checked := make(map[wire.Hash]bool)
	var problem string
	var placed int64
	wire.PlaceChunks(r.Extents, 0, refs, func(off int64, rs []wire.ChunkRef) {
		for _, c := range rs {
			switch {
			case problem != "":
			case !checked[c.Hash] && !f.hasChunk(p, c.Hash):
				problem = fmt.Sprintf("%s: chunk %s not served", p, c.Hash)
			case wire.Sum(data[off:off+int64(c.Size)]) != c.Hash:
				problem = fmt.Sprintf("%s: chunk at %d does not match content", p, off)
			}
			checked[c.Hash] = true
			off += int64(c.Size)
			placed += int64(c.Size)
		}
	})
	if problem == "" && r.Data == nil && placed != r.DataLen() {
		problem = fmt.Sprintf("%s: %d bytes of chunks lie in the extents, want %d", p, placed, r.DataLen())
	}
	return problem
}

// converged waits until the published state matches the tree.
func (f *fixture) converged(timeout time.Duration) {
	f.t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for {
		if last = f.diff(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("published state does not match the tree after %s:\n%s", timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// counter reads a metric of the source's registry.
func (r *running) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m.GetLabel(), labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				}
			}
		}
	}
	return 0
}

func hasLabels(have []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range have {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// startBrokerAt starts a broker with its store in dir, listening on addr.
func startBrokerAt(t *testing.T, dir, addr string) *broker.Broker {
	t.Helper()
	return jstest.Start(t, broker.Config{DataDir: dir, Listen: addr})
}
