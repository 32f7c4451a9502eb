package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/jetsync/jetsync/pkg/apply"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/wire"
)

// errSourceUnreachable marks content that is neither local nor cached
// while the source does not answer: the record waits for the source.
var errSourceUnreachable = errors.New("content not cached and the source does not answer")

// errSourceBusy marks a reply that brought none of what was asked because
// the source is at its --max-rate: not a failure, the replica asks again.
var errSourceBusy = errors.New("source at its rate limit")

// Content fetching limits (variables so that tests can tune them).
var (
	// maxRequests bounds the content requests in flight to the source.
	maxRequests = 16
	// requestTimeout bounds one content request: a source reads and sends
	// at most a few chunks per request, so a request unanswered this long
	// went to a source that died or was cut off.
	requestTimeout = 10 * time.Second
	// sourceAttempts is how often one chunk is asked of an unreachable
	// source (with backoff) before the record's apply gives up for now.
	sourceAttempts = 5
	// replyLimit is the largest reply a replica asks for.
	replyLimit = 1 << 20
	// sourceBusyWait is the pause before asking again a source that said
	// "later" to a request's first hash (it is at its --max-rate).
	sourceBusyWait = 200 * time.Millisecond
)

// itemOverhead bounds what one chunk adds to its bytes on the wire
// (status, length, payload header): with the chunk's size, it is what a
// pull takes of --max-rate before it asks.
const itemOverhead = 16

// fetcher is the replica's apply.Content: the content cache first when
// the record says its chunks went there, then the source's content
// service. (Local content was looked for before: see apply.Local.)
type fetcher struct {
	r      *Replica
	nc     *nats.Conn
	folder string
	state  jetstream.Stream // holds the chunks of records of version 1 and 2 until the source upgrades
	slots  chan struct{}

	mu    sync.Mutex
	cache jetstream.Stream // opened on first use
}

func newFetcher(r *Replica, state jetstream.Stream) *fetcher {
	return &fetcher{r: r, nc: r.js.Conn(), folder: r.cfg.Folder, state: state, slots: make(chan struct{}, maxRequests)}
}

// Chunk implements apply.Content.
func (f *fetcher) Chunk(ctx context.Context, w apply.Want) ([]byte, error) {
	if data, ok := f.fromStreams(ctx, w); ok {
		return data, nil
	}
	return f.fromSource(ctx, w)
}

// fromStreams looks for w's chunk where the record says it may be: the
// content cache, and for records of releases that kept content in the
// state stream, that stream.
func (f *fetcher) fromStreams(ctx context.Context, w apply.Want) ([]byte, bool) {
	legacy := w.Rec.V > 0 && w.Rec.V < wire.RecordVersion
	if legacy {
		if data, ok := f.fromStream(ctx, f.state, w); ok {
			return data, true
		}
	}
	if w.Rec.Cached || legacy {
		return f.fromStream(ctx, f.cacheStream(ctx), w)
	}
	return nil, false
}

// cacheStream returns the folder's content cache, nil while there is none.
func (f *fetcher) cacheStream(ctx context.Context) jetstream.Stream {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cache == nil {
		f.cache, _ = f.r.js.Stream(ctx, wire.CacheStreamName(f.folder))
	}
	return f.cache
}

// fromStream gets w's chunk from a stream by direct get, verified.
func (f *fetcher) fromStream(ctx context.Context, st jetstream.Stream, w apply.Want) ([]byte, bool) {
	if st == nil {
		return nil, false
	}
	want := int(w.Ref.Size) + itemOverhead
	if f.r.limit.Take(ctx, want) != nil {
		return nil, false
	}
	msg, err := st.GetLastMsgForSubject(ctx, f.r.keys.ChunkSubject(f.folder, w.Ref.Hash))
	moved := 0 // a miss brings next to nothing
	if err == nil {
		moved = len(msg.Data)
	}
	f.r.limit.Settle(want, moved)
	if err != nil {
		f.r.metrics.content.WithLabelValues("cache_miss").Inc()
		return nil, false
	}
	payload, err := f.r.keys.OpenIf(seal.KindChunk, msg.Subject, msg.Data)
	var data []byte
	if err == nil {
		data, err = wire.DecodeChunk(nil, payload, w.Ref.Hash)
	}
	if err != nil {
		f.badContent("cache", w, err)
		return nil, false
	}
	f.r.metrics.content.WithLabelValues("cache_hit").Inc()
	f.got(data)
	return data, true
}

// fromSource asks the source, retrying with backoff while it does not
// answer or answers with bytes that do not match; content it no longer
// has is apply.ErrChunkMissing.
func (f *fetcher) fromSource(ctx context.Context, w apply.Want) ([]byte, error) {
	kind := wire.ContentChunks
	if w.Manifest {
		kind = wire.ContentManifest
	}
	req, err := f.request(wire.ContentRequest{Kind: kind, Path: w.Rec.Path, Limit: replyLimit,
		Hashes: []wire.Hash{w.Ref.Hash}})
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		data, err := f.ask(ctx, req, w)
		switch {
		case err == nil:
			f.r.prog.setWaiting("")
			return data, nil
		case errors.Is(err, apply.ErrChunkMissing) || ctx.Err() != nil:
			return nil, err
		case errors.Is(err, errSourceBusy): // it answers, only slowly: not an attempt that failed
			attempt--
			sleep(ctx, sourceBusyWait)
			continue
		case attempt+1 >= sourceAttempts:
			if errors.Is(err, errSourceUnreachable) {
				f.r.prog.setWaiting(w.Rec.Path) // a source that answers, even badly, is not waited for
			}
			return nil, err
		}
		sleep(ctx, backoff(attempt))
	}
}

// ask sends one request and decodes its one-item reply.
func (f *fetcher) ask(ctx context.Context, req []byte, w apply.Want) ([]byte, error) {
	items, err := f.askMany(ctx, req, 1, int(w.Ref.Size)+itemOverhead, w)
	if err != nil {
		return nil, err
	}
	if items[0].Status == wire.ContentLater { // a single hash always fits: the source is at its rate limit
		return nil, fmt.Errorf("%w: chunk %s", errSourceBusy, w.Ref.Hash)
	}
	return f.accept(items[0], w)
}

// accept turns one item of a reply into w's content: "gone" is
// apply.ErrChunkMissing, and a payload that does not decode to w's hash is
// counted and rejected.
func (f *fetcher) accept(it wire.ContentItem, w apply.Want) ([]byte, error) {
	switch it.Status {
	case wire.ContentGone:
		f.r.metrics.content.WithLabelValues("source_gone").Inc()
		return nil, fmt.Errorf("%w: %s of %s", apply.ErrChunkMissing, w.Ref.Hash, w.Rec.Path)
	case wire.ContentLater:
		return nil, fmt.Errorf("source sent no room for chunk %s", w.Ref.Hash)
	}
	data, err := wire.DecodeChunk(nil, it.Payload, w.Ref.Hash)
	if err != nil {
		f.badContent("source", w, err)
		return nil, err
	}
	f.r.metrics.content.WithLabelValues("source_ok").Inc()
	f.got(data)
	return data, nil
}

// askMany sends one request for n hashes and decodes the reply, whose
// payloads are not verified yet; a reply that does not decode is counted
// as bad content (w names the first hash asked, for the log). It first
// takes the reply's expected size (want bytes) of --max-rate.
func (f *fetcher) askMany(ctx context.Context, req []byte, n, want int, w apply.Want) ([]wire.ContentItem, error) {
	want = min(want, replyLimit)
	if err := f.r.limit.Take(ctx, want); err != nil { // before a slot: a wait for the rate holds none
		return nil, err
	}
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		f.r.limit.Settle(want, 0)
		return nil, ctx.Err()
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	msg, err := f.nc.RequestWithContext(rctx, wire.ContentSubject(f.folder), req)
	cancel()
	<-f.slots
	if err != nil {
		f.r.limit.Settle(want, 0)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f.r.metrics.content.WithLabelValues("source_unreachable").Inc()
		return nil, fmt.Errorf("%w: %w", errSourceUnreachable, err)
	}
	f.r.limit.Settle(want, len(msg.Data))
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		f.r.metrics.content.WithLabelValues("source_error").Inc()
		return nil, fmt.Errorf("source refused the content request (%s): %s", code, msg.Header.Get(micro.ErrorHeader))
	}
	body, err := f.r.keys.OpenIf(seal.KindReply, wire.ContentSubject(f.folder), msg.Data)
	var items []wire.ContentItem
	if err == nil {
		items, err = wire.DecodeContentReply(body, n)
	}
	if err != nil {
		f.badContent("source", w, err)
	}
	return items, err
}

// request encodes r, sealed in an encrypted folder: it names a path and
// the hashes of its content.
func (f *fetcher) request(r wire.ContentRequest) ([]byte, error) {
	b, err := wire.EncodeContentRequest(r)
	if err != nil {
		return nil, err
	}
	return f.r.keys.SealIf(seal.KindRequest, wire.ContentSubject(f.folder), b), nil
}

// got counts content fetched as it arrives, so that the metric shows a
// big file's progress, and what an interrupted apply fetched.
func (f *fetcher) got(data []byte) {
	f.r.metrics.fetched.Add(float64(len(data)))
	f.r.prog.received.Add(int64(len(data)))
}

// badContent counts and logs content that does not decode or match its
// hash; it is asked for again.
func (f *fetcher) badContent(from string, w apply.Want, err error) {
	f.r.metrics.content.WithLabelValues("bad_content").Inc()
	f.r.metrics.errors.WithLabelValues("bad_content").Inc()
	f.r.log.Warn("rejected content that does not match its hash", "from", from, "path", w.Rec.Path,
		"chunk", w.Ref.Hash, "err", err, slog.String("action", "asking again"))
}

// Chunks implements apply.BatchContent: the cache for each chunk where the
// record says it is cached, then one request to the source for the rest.
// It does not retry: what it does not bring, the caller asks Chunk for.
func (f *fetcher) Chunks(ctx context.Context, rec *wire.Record, refs []wire.ChunkRef) [][]byte {
	out := make([][]byte, len(refs))
	var ask []int
	for i, ref := range refs {
		w := apply.Want{Rec: rec, Ref: ref}
		if data, ok := f.fromStreams(ctx, w); ok {
			out[i] = data
		} else {
			ask = append(ask, i)
		}
	}
	if len(ask) == 0 {
		return out
	}
	hashes := make([]wire.Hash, len(ask))
	want := 0
	for n, i := range ask {
		hashes[n] = refs[i].Hash
		want += int(refs[i].Size) + itemOverhead
	}
	req, err := f.request(wire.ContentRequest{Kind: wire.ContentChunks, Path: rec.Path,
		Limit: replyLimit, Hashes: hashes})
	if err != nil {
		return out
	}
	items, err := f.askMany(ctx, req, len(ask), want, apply.Want{Rec: rec, Ref: refs[ask[0]]})
	if err != nil {
		return out
	}
	for n, i := range ask {
		if items[n].Status == wire.ContentOK { // the rest is asked for alone, and reported then
			out[i], _ = f.accept(items[n], apply.Want{Rec: rec, Ref: refs[i]})
		}
	}
	f.r.prog.setWaiting("")
	return out
}
