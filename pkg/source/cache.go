package source

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/wire"
)

// recentMax bounds the hashes remembered as recently sent to the cache.
const recentMax = 1 << 16

// recentChunks remembers the chunks of content published lately (read by
// a scan, which replicas pull, or sent to the content cache), so that a
// live rename or copy of such content, or content several changes share,
// is not sent to the cache again: replicas take it from their own disks.
// It may forget (it is bounded, and the broker evicts): a chunk a replica
// finds nowhere else is served by the source.
type recentChunks struct {
	mu   sync.Mutex
	seen map[wire.Hash]struct{}
}

// claim reports whether h should be sent, remembering it.
func (r *recentChunks) claim(h wire.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[h]; ok {
		return false
	}
	if r.seen == nil || len(r.seen) >= recentMax {
		r.seen = make(map[wire.Hash]struct{})
	}
	r.seen[h] = struct{}{}
	return true
}

// note remembers h without sending it.
func (r *recentChunks) note(h wire.Hash) { r.claim(h) }

func (r *recentChunks) forget(h wire.Hash) {
	r.mu.Lock()
	delete(r.seen, h)
	r.mu.Unlock()
}

// cacheSend sends the new chunks of one live change to the content cache.
// A nil *cacheSend sends nothing.
type cacheSend struct {
	s   *Source
	old map[wire.Hash]struct{} // chunks of the path's previous version
}

// cacheFor decides whether the content of path goes to the cache: only
// for live changes once the initial sync is done, never while a full
// state is being republished (replicas pull those on demand), and not
// when the cache is off. Chunks of the path's previous version are left
// out: a replica that had it has them.
func (s *Source) cacheFor(path string) *cacheSend {
	if s.cfg.ContentCache <= 0 || !s.prog.initialDone.Load() || s.bv.metaPartial.Load() {
		return nil
	}
	c := &cacheSend{s: s}
	if e, err := s.ix.Get(path); err == nil && e != nil && e.Type == wire.File {
		c.old = hashSet(e.Chunks)
	}
	return c
}

func hashSet(refs []wire.ChunkRef) map[wire.Hash]struct{} {
	m := make(map[wire.Hash]struct{}, len(refs))
	for _, r := range refs {
		m[r.Hash] = struct{}{}
	}
	return m
}

// cacheChunk hands one chunk of a file being read to c, or, for a file
// whose content does not go to the cache (c nil), only remembers it as
// recently published.
func (s *Source) cacheChunk(ctx context.Context, c *cacheSend, h wire.Hash, data []byte) error {
	if c == nil {
		s.cache.note(h)
		return nil
	}
	return c.chunk(ctx, h, data)
}

// chunk sends one chunk to the cache without waiting for its ack: the
// record does not depend on it, since the source serves whatever the
// cache lacks. Only a stopping source makes it fail.
func (c *cacheSend) chunk(ctx context.Context, h wire.Hash, data []byte) error {
	if _, ok := c.old[h]; ok || !c.s.cache.claim(h) {
		c.s.metrics.skipped.Inc()
		return nil
	}
	buf := payloadPool.Get().(*[]byte)
	payload := wire.EncodeChunk(*buf, data, c.s.cfg.Compression)
	subject := c.s.keys.ChunkSubject(c.s.cfg.Folder, h)
	msg := &nats.Msg{Subject: subject, Data: c.s.keys.SealIf(seal.KindChunk, subject, payload)}
	sealed := c.s.keys != nil
	if sealed {
		putPayload(buf, payload) // sealing copied it
	}
	err := c.s.pub.publishOther(ctx, msg, func(a ack) {
		if a.err != nil {
			c.s.cache.forget(h)
			c.s.metrics.cacheErrors.Inc()
			c.s.log.Debug("content cache publish failed; the source serves the chunk", "chunk", h, "err", a.err)
			return
		}
		c.s.countPublished(len(msg.Data))
		if !sealed {
			putPayload(buf, payload) // acknowledged: the client holds it no longer
		}
	})
	if err != nil {
		c.s.cache.forget(h)
	}
	return err
}

// payloadPool holds buffers for chunk payloads: a chunk of the chunker's
// largest size and its header fit without growing.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, payloadCap); return &b }}

var payloadCap = wire.PayloadCap(chunk.MaxSize)

// putPayload gives back the buffer of a payload, unless encoding had to
// outgrow it.
func putPayload(buf *[]byte, payload []byte) {
	if cap(payload) == payloadCap {
		*buf = payload[:0]
		payloadPool.Put(buf)
	}
}
