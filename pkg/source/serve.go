package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/ratelimit"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/wire"
)

// ServiceName is the name of the content service in `nats micro ls`.
const ServiceName = "jetsync-source"

// contentReaders is how many content requests a source answers at once:
// that many endpoints share the content subject in one queue group, each
// answering its requests in turn.
var contentReaders = 4

// replyWaitMax bounds how long one reply waits for --max-rate: a request
// waits in its endpoint's queue behind others, and its requester gives up
// after 10 s. The hashes that would wait longer are answered "later", and
// asked again.
var replyWaitMax = time.Second

// serveContent runs the folder's content service until ctx ends: replicas
// ask it, through the broker, for chunks and manifest blobs they have
// neither locally nor in the cache. Answers come from the files under the
// root, read where the index says the published content is, and each
// chunk is checked against its hash before it is sent.
func (s *Source) serveContent(ctx context.Context) error {
	root, err := os.OpenRoot(s.cfg.Root)
	if err != nil {
		return fmt.Errorf("serve content: %w", err)
	}
	defer root.Close()
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        ServiceName,
		Version:     strconv.Itoa(wire.ContentVersion) + ".0.0",
		Description: "jetsync source: content of folder " + s.cfg.Folder + " by hash",
		Metadata:    map[string]string{"folder": s.cfg.Folder, "source": s.ix.ID()},
	})
	if err != nil {
		return fmt.Errorf("serve content: %w", err)
	}
	defer func() { _ = svc.Stop() }()
	srv := &contentServer{s: s, root: root, ctx: ctx,
		limit: ratelimit.New(s.cfg.MaxRate, func(d time.Duration) { s.metrics.rateLimited.Add(d.Seconds()) })}
	for i := range contentReaders {
		err := svc.AddEndpoint("content-"+strconv.Itoa(i), micro.HandlerFunc(srv.handle),
			micro.WithEndpointSubject(wire.ContentSubject(s.cfg.Folder)),
			micro.WithEndpointMetadata(map[string]string{"folder": s.cfg.Folder}))
		if err != nil {
			return fmt.Errorf("serve content: %w", err)
		}
	}
	<-ctx.Done()
	return nil
}

// freshEntries holds the entries of file records from their publish until
// the index has them (entries are committed in batches after their acks):
// a replica may ask for the content of a record as soon as it is stored,
// and "gone" must mean that the file changed, not that the index is late.
type freshEntries struct {
	mu sync.Mutex
	m  map[string]*index.Entry
}

func (f *freshEntries) put(e *index.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = make(map[string]*index.Entry)
	}
	f.m[e.Path] = e
}

func (f *freshEntries) get(path string) *index.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[path]
}

// done forgets e once the index has it, unless a newer publish of its
// path replaced it meanwhile.
func (f *freshEntries) done(e *index.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[e.Path] == e {
		delete(f.m, e.Path)
	}
}

// contentServer answers content requests for one source.
type contentServer struct {
	s       *Source
	root    *os.Root
	layouts layoutCache
	ctx     context.Context    // the service's: a wait for the limit ends with it
	limit   *ratelimit.Limiter // Config.MaxRate, shared by every request
}

// layout is where the published content of one file lies: its entry, and
// the offset of each chunk in the file (a sparse file's chunks lie in its
// extents, holes between them). Building it decodes the whole chunk list
// (4,096 chunks for a 256 MiB file), which a big file's requests, one per
// chunk, must not repeat.
type layout struct {
	e  *index.Entry
	at map[wire.Hash]span

	blobsOnce sync.Once
	blobs     map[wire.Hash][]byte // manifest blobs by hash, built on first use
}

// manifestBlob returns the manifest blob h of the file's chunk list, nil
// if it has none such. The blobs are encoded once per layout, not once per
// request.
func (l *layout) manifestBlob(h wire.Hash) []byte {
	l.blobsOnce.Do(func() {
		l.blobs = make(map[wire.Hash][]byte)
		if len(l.e.Manifest) > 0 {
			for _, b := range wire.EncodeManifest(l.e.Chunks) {
				l.blobs[wire.Sum(b)] = b
			}
		}
	})
	return l.blobs[h]
}

func newLayout(e *index.Entry) *layout {
	l := &layout{e: e, at: make(map[wire.Hash]span, len(e.Chunks))}
	wire.PlaceChunks(e.Extents, 0, e.Chunks, func(off int64, refs []wire.ChunkRef) {
		for _, c := range refs {
			if _, ok := l.at[c.Hash]; !ok {
				l.at[c.Hash] = span{off, c.Size}
			}
			off += int64(c.Size)
		}
	})
	return l
}

// layoutCache keeps the layouts of the files asked for lately. A layout is
// used only while it is of the entry the source currently has for its
// path (the one being published, else the index's, compared by its
// header): a changed file gets a new one.
type layoutCache struct {
	mu sync.Mutex
	m  map[string]*layout
}

// layoutCacheSize bounds the cache: replicas pull a few files at a time.
const layoutCacheSize = 32

// get returns the layout of the file at path, nil if the source has no
// published file there.
func (c *layoutCache) get(s *Source, path string) (*layout, error) {
	e := s.fresh.get(path)
	if e == nil {
		if l := c.lookup(path); l != nil {
			head, err := s.ix.Head(path)
			if err != nil {
				return nil, err
			}
			if head != nil && sameHead(l.e, head) {
				return l, nil
			}
		}
		var err error
		if e, err = s.ix.Get(path); err != nil || e == nil || e.Type != wire.File {
			return nil, err
		}
	} else if l := c.lookup(path); l != nil && l.e == e {
		return l, nil
	}
	l := newLayout(e)
	c.store(path, l)
	return l, nil
}

// sameHead reports whether a and b describe the same published version.
func sameHead(a, b *index.Entry) bool {
	return a.Stat == b.Stat && a.Hash == b.Hash && a.Seq == b.Seq
}

func (c *layoutCache) lookup(path string) *layout {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[path]
}

func (c *layoutCache) store(path string, l *layout) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= layoutCacheSize {
		c.m = make(map[string]*layout) // crude, and enough for a handful of files in flight
	}
	c.m[path] = l
}

func (c *contentServer) handle(req micro.Request) {
	subject := wire.ContentSubject(c.s.cfg.Folder)
	r, err := c.s.keys.OpenIf(seal.KindRequest, subject, req.Data())
	var cr wire.ContentRequest
	if err == nil {
		cr, err = wire.DecodeContentRequest(r)
	}
	if err != nil {
		c.s.metrics.served.WithLabelValues("bad_request").Inc()
		c.s.log.Warn("rejected a content request", "err", err)
		_ = req.Error("400", c.public(err), nil)
		return
	}
	buf := replyPool.Get().(*[]byte)
	defer replyPool.Put(buf)
	reply, err := c.answer((*buf)[:0], cr)
	if err != nil {
		c.s.metrics.served.WithLabelValues("error").Inc()
		c.s.log.Warn("cannot answer a content request", "path", cr.Path, "err", err)
		_ = req.Error("500", c.public(err), nil)
		return
	}
	_ = req.Respond(c.s.keys.SealIf(seal.KindReply, subject, reply)) // copied into the connection's buffer before it returns
	if cap(reply) <= replyCap {
		*buf = reply[:0]
	}
}

// Buffers of the content service, reused between requests: a reply, and
// a chunk read from a file and its encoded payload.
var (
	replyCap  = 1<<20 + 64<<10
	replyPool = sync.Pool{New: func() any { b := make([]byte, 0, replyCap); return &b }}
	readPool  = sync.Pool{New: func() any { b := make([]byte, chunk.MaxSize); return &b }}
)

// answer appends to dst the reply to r: as many of its hashes as fit the
// reply, in order, each either content or "gone".
func (c *contentServer) answer(dst []byte, r wire.ContentRequest) ([]byte, error) {
	l, err := c.layouts.get(c.s, r.Path)
	if err != nil {
		return nil, err
	}
	var find func(h wire.Hash, dst []byte) ([]byte, error)
	if l != nil {
		if r.Kind == wire.ContentManifest {
			find = func(h wire.Hash, _ []byte) ([]byte, error) { return l.manifestBlob(h), nil }
		} else {
			f := &chunkReader{root: c.root, l: l, pins: &c.s.pins}
			defer f.close()
			find = f.read
		}
	}
	limit := min(r.Limit, int(c.s.nc.MaxPayload()))
	if c.s.keys != nil {
		limit -= seal.Overhead // the reply is sealed after it is made
	}
	reply := wire.AppendContentReplyHeader(dst, len(r.Hashes))
	rbuf, pbuf := readPool.Get().(*[]byte), payloadPool.Get().(*[]byte)
	defer readPool.Put(rbuf)
	defer payloadPool.Put(pbuf)
	full := false
	for i, h := range r.Hashes {
		if !full && !c.limit.TakeWithin(c.ctx, cost(l, r.Kind, h), replyWaitMax) {
			full = true // at the rate limit: the rest is asked for again
		}
		if full { // nothing more fits: not read, not hashed
			c.s.metrics.served.WithLabelValues(statusName[wire.ContentLater]).Inc()
			reply = wire.AppendContentItem(reply, wire.ContentLater, nil)
			continue
		}
		data, err := lookup(find, h, *rbuf)
		if err != nil {
			return nil, err
		}
		status, payload := wire.ContentGone, []byte(nil)
		if data != nil {
			status, payload = wire.ContentOK, wire.EncodeChunk(*pbuf, data, c.s.cfg.Compression)
		}
		// Room is kept for the status byte of every hash after this one.
		rest := len(r.Hashes) - i - 1
		if status == wire.ContentOK && len(reply)+len(payload)+16+rest > limit && len(reply) > 8 {
			full, status = true, wire.ContentLater
		}
		c.s.metrics.served.WithLabelValues(statusName[status]).Inc()
		if status == wire.ContentOK {
			c.s.metrics.servedBytes.Add(float64(len(payload)))
		}
		reply = wire.AppendContentItem(reply, status, payload)
	}
	return reply, nil
}

// cost is what answering h takes of --max-rate: the bytes read for it
// (a manifest blob is built, not read, but sent).
func cost(l *layout, kind byte, h wire.Hash) int {
	switch {
	case l == nil:
		return 0
	case kind == wire.ContentManifest:
		return len(l.manifestBlob(h))
	default:
		return int(l.at[h].n)
	}
}

// public is what a requester (and the broker, and the service's stats)
// is told of err: in an encrypted folder, nothing that may name a path.
func (c *contentServer) public(err error) string {
	if c.s.keys != nil {
		return "the source cannot answer this request (its log says why)"
	}
	return err.Error()
}

var statusName = map[byte]string{wire.ContentOK: "ok", wire.ContentGone: "gone", wire.ContentLater: "later"}

func lookup(find func(wire.Hash, []byte) ([]byte, error), h wire.Hash, dst []byte) ([]byte, error) {
	if find == nil {
		return nil, nil
	}
	return find(h, dst)
}

// chunkReader reads chunks of one indexed file where its chunk list puts
// them: from the version's pin if it has one (see pinnedVersions), else
// from the file at its path. Content that is not there any more (the file
// changed since it was published) is nil: a newer state of the path is on
// its way.
type chunkReader struct {
	root *os.Root
	l    *layout
	pins *pinnedVersions
	pin  *pin
	f    *os.File
	r    io.ReaderAt
	err  error
	open bool
}

// read returns chunk h, in dst when it has room.
func (r *chunkReader) read(h wire.Hash, dst []byte) ([]byte, error) {
	if !r.open {
		r.open = true
		r.openVersion()
	}
	sp, ok := r.l.at[h]
	if !ok || r.err != nil {
		return nil, nil // not a chunk of this file, or the file is gone
	}
	buf := dst[:0]
	if cap(buf) < int(sp.n) {
		buf = make([]byte, sp.n)
	}
	buf = buf[:sp.n]
	if _, err := r.r.ReadAt(buf, sp.off); errors.Is(err, io.EOF) {
		return nil, nil // shorter than published: changed since
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.l.e.Path, err)
	}
	if wire.Sum(buf) != h {
		return nil, nil // changed since it was published
	}
	return buf, nil
}

var errNotRegular = errors.New("not a regular file")

type span struct {
	off int64
	n   uint32
}

// openVersion finds what holds the version's content: its pin, or the
// file at its path, opened not blocking (a FIFO now at the path would hold
// the endpoint until a writer came), and only if it is a regular file: a
// FIFO, device or directory there holds none of the published content.
func (r *chunkReader) openVersion() {
	if r.pins != nil {
		if r.pin = r.pins.get(r.l.e); r.pin != nil {
			r.r = r.pin.r
			return
		}
	}
	r.f, r.err = r.root.OpenFile(r.l.e.Path, os.O_RDONLY|openFlags, 0)
	if r.err == nil {
		r.r = r.f
		if fi, err := r.f.Stat(); err != nil || !fi.Mode().IsRegular() {
			r.err = errNotRegular
		}
	}
}

func (r *chunkReader) close() {
	if r.pin != nil {
		r.pins.done(r.pin)
	}
	if r.f != nil {
		r.f.Close()
	}
}
