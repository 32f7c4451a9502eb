package source

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	dto "github.com/prometheus/client_model/go"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/wire"
)

// The content service is reached here exactly as a replica reaches it:
// request-reply through the broker on the folder's content subject.

// contentClient sends content requests and tallies what came back, by the
// status names the source's counter uses.
type contentClient struct {
	nc     *nats.Conn
	folder string
	mu     sync.Mutex
	got    map[string]int
}

func newContentClient(f *fixture) *contentClient {
	return &contentClient{nc: f.nc, folder: f.folder, got: make(map[string]int)}
}

func (c *contentClient) tally(status string, n int) {
	c.mu.Lock()
	c.got[status] += n
	c.mu.Unlock()
}

func (c *contentClient) count(status string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[status]
}

// raw sends req as it is and returns the reply message.
func (c *contentClient) raw(req []byte) (*nats.Msg, error) {
	msg, err := c.nc.Request(wire.ContentSubject(c.folder), req, 10*time.Second)
	if err != nil {
		return nil, err
	}
	switch code := msg.Header.Get(micro.ErrorCodeHeader); code {
	case "":
	case "400":
		c.tally("bad_request", 1)
	default:
		c.tally("error", 1)
	}
	return msg, nil
}

// ask sends a well-formed request and decodes the reply; size is the
// reply's length in bytes.
func (c *contentClient) ask(kind byte, path string, limit int, hs ...wire.Hash) (items []wire.ContentItem, size int, err error) {
	req, err := wire.EncodeContentRequest(wire.ContentRequest{Kind: kind, Path: path, Limit: limit, Hashes: hs})
	if err != nil {
		return nil, 0, err
	}
	msg, err := c.raw(req)
	if err != nil {
		return nil, 0, err
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return nil, 0, errors.New("service error " + code + ": " + msg.Header.Get(micro.ErrorHeader))
	}
	items, err = wire.DecodeContentReply(msg.Data, len(hs))
	if err != nil {
		return nil, 0, err
	}
	for _, it := range items {
		c.tally(statusName[it.Status], 1)
	}
	return items, len(msg.Data), nil
}

func (c *contentClient) mustAsk(t *testing.T, kind byte, path string, hs ...wire.Hash) []wire.ContentItem {
	t.Helper()
	items, _, err := c.ask(kind, path, 1<<20, hs...)
	if err != nil {
		t.Fatalf("ask %q for %d hashes: %v", path, len(hs), err)
	}
	return items
}

// expectGone asks for hs under path and fails unless every one is gone.
func (c *contentClient) expectGone(t *testing.T, kind byte, path string, hs ...wire.Hash) {
	t.Helper()
	for i, it := range c.mustAsk(t, kind, path, hs...) {
		if it.Status != wire.ContentGone {
			t.Errorf("%q, kind %d, hash %d of %d: status %d, want gone", path, kind, i, len(hs), it.Status)
		}
	}
}

// rawRequest builds a content request byte by byte, including ones that
// wire.EncodeContentRequest refuses to build.
func rawRequest(version, kind byte, path string, limit, count uint64, hs ...wire.Hash) []byte {
	b := []byte{version, kind}
	b = binary.AppendUvarint(b, uint64(len(path)))
	b = append(b, path...)
	b = binary.AppendUvarint(b, limit)
	b = binary.AppendUvarint(b, count)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

func hashes(refs []wire.ChunkRef) []wire.Hash {
	hs := make([]wire.Hash, len(refs))
	for i, r := range refs {
		hs[i] = r.Hash
	}
	return hs
}

// chunkHashes cuts data as the source does.
func chunkHashes(t *testing.T, data string) []wire.Hash {
	t.Helper()
	sp, err := chunk.NewSplitter()
	must(t, err)
	var hs []wire.Hash
	_, _, err = sp.Split(strings.NewReader(data), func(h wire.Hash, _ []byte) error { hs = append(hs, h); return nil })
	must(t, err)
	return hs
}

// servedCounts reads jetsync_source_content_served_total by status.
func (r *running) servedCounts(t *testing.T) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for _, s := range []string{"ok", "gone", "later", "bad_request", "error"} {
		out[s] = int(r.counter(t, "jetsync_source_content_served_total", "status", s))
	}
	return out
}

// checkServedCounts compares the source's counter, since before, with
// what the client received.
func checkServedCounts(t *testing.T, r *running, before map[string]int, c *contentClient) {
	t.Helper()
	after := r.servedCounts(t)
	for s := range after {
		if got, want := after[s]-before[s], c.count(s); got != want {
			t.Errorf("content_served_total{status=%q} grew by %d, the client received %d", s, got, want)
		}
	}
}

// manualServing is fixture.manual with file workers and the content
// service running, after one full scan: what it publishes stays the
// published state however the tree changes, since nothing watches it.
func (f *fixture) manualServing() *Source {
	f.t.Helper()
	s := f.manual()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { _ = s.worker(ctx) })
	}
	wg.Go(func() {
		if err := s.serveContent(ctx); err != nil {
			f.t.Errorf("serve content: %v", err)
		}
	})
	f.t.Cleanup(func() {
		cancel()
		close(s.jobs)
		wg.Wait()
	})
	must(f.t, s.fullScan(ctx))
	return s
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) int {
	t.Helper()
	var m dto.Metric
	must(t, c.Write(&m))
	return int(m.GetCounter().GetValue())
}
