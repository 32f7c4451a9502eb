package apply

import (
	"context"
	"os"
	"sync"

	"github.com/jetsync/jetsync/pkg/wire"
)

// prefetchWindow is how many chunks of one file are obtained ahead of the
// writer. A chunk from the broker is a round trip; one from a local file
// is a read and a hash check. Overlapping them is what makes a big file
// arrive at the link's speed rather than at one chunk per round trip, and
// spreads the checks of reused chunks over the CPUs. It bounds the memory
// too: window × the largest chunk.
const prefetchWindow = 8

// A file of at least batchFrom chunks whose content source can batch
// (BatchContent) is obtained in ranges of batchLen chunks, those not found
// locally asked for in one round trip, with batchWindow chunks ahead of
// the writer: fewer, larger requests for the files where round trips add
// up. Smaller files keep one chunk per job.
const (
	batchFrom   = 16
	batchLen    = 4
	batchWindow = 16
)

// fetched is what obtaining one chunk gave, or the end of the list.
type fetched struct {
	data  []byte
	local bool    // read from a local file, not fetched
	buf   *[]byte // pooled buffer holding data, to give back (putBuf)
	err   error
	seg   *segment // set on the last chunk of a segment
	end   bool     // no chunk: the list ended here (err says why, if it is bad)
}

// prefetcher obtains the chunks of one file in order, at most a window
// ahead of the chunk being written. What it holds is bounded by the
// window, whatever the file's length: one result slot per chunk of the
// window, reused round the ring, and the segments of the list it is
// working on.
type prefetcher struct {
	ring  []chan fetched // chunk k's result is in ring[k%len(ring)]
	slots chan struct{}  // one per chunk handed out and not yet taken
	taken int            // chunks taken by the writer
	// A chunk is handed out only once it has a slot, so at most len(ring)
	// are handed out and not taken: when chunk k is, chunk k-len(ring)
	// has been taken and its ring entry is free.
	cancel context.CancelFunc
	wg     sync.WaitGroup
	held   *[]byte // buffer of the result last taken, given back on the next take
}

// job is a range of chunks to obtain, refs[0] being the k-th of the file.
type job struct {
	k    int
	refs []wire.ChunkRef
	seg  *segment // set on the range that ends seg
}

// startPrefetch starts obtaining the chunks list yields, each from a
// local file when a (with a Local index) finds it there intact, else from
// a.Content.
func startPrefetch(ctx context.Context, a *Applier, rec *wire.Record, list *chunkList) *prefetcher {
	window, span := prefetchWindow, 1
	batch, _ := a.Content.(BatchContent)
	if batch != nil && (len(rec.Manifest) > 0 || len(rec.Chunks) >= batchFrom) {
		window, span = batchWindow, batchLen
	}
	workers := window / span
	if len(rec.Manifest) == 0 {
		workers = min(workers, (len(rec.Chunks)+span-1)/span)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{ring: make([]chan fetched, window), slots: make(chan struct{}, window), cancel: cancel}
	for i := range p.ring {
		p.ring[i] = make(chan fetched, 1)
	}
	jobs := make(chan job)
	for range workers {
		p.wg.Go(func() {
			lr := &localReader{a: a}
			defer lr.close()
			for j := range jobs {
				p.obtainRange(ctx, a, lr, rec, j, batch)
			}
		})
	}
	p.wg.Go(func() { defer close(jobs); p.feed(ctx, list, jobs, span) })
	return p
}

// feed reads the list a segment at a time and hands out its ranges of
// span chunks in order, taking a slot of the window for each chunk
// first; a range does not cross segments. The next blob of a manifest is
// thus fetched while the window's chunks of the one before are. The end
// of the list, or its error, takes the place of the chunk after the last.
func (p *prefetcher) feed(ctx context.Context, list *chunkList, jobs chan<- job, span int) {
	for k := 0; ; {
		seg, err := list.segment(ctx)
		if err != nil || seg == nil {
			if p.acquire(ctx, 1) {
				p.ring[k%len(p.ring)] <- fetched{end: true, err: err}
			}
			return
		}
		for i := 0; i < len(seg.refs); i += span {
			j := min(i+span, len(seg.refs))
			if !p.acquire(ctx, j-i) {
				return
			}
			r := job{k: k + i, refs: seg.refs[i:j]}
			if j == len(seg.refs) {
				r.seg = seg
			}
			select {
			case jobs <- r:
			case <-ctx.Done():
				return
			}
		}
		k += len(seg.refs)
	}
}

// acquire takes n slots of the window, freed as the writer takes results.
func (p *prefetcher) acquire(ctx context.Context, n int) bool {
	for range n {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// obtainRange obtains the chunks of j: each from a local file if one
// holds it, the others in one request when batch is set and there are
// several, else one by one. A chunk the batch did not bring is fetched
// alone, with the content source's retries and errors.
func (p *prefetcher) obtainRange(ctx context.Context, a *Applier, lr *localReader, rec *wire.Record, j job, batch BatchContent) {
	put := func(n int, r fetched) {
		if n == len(j.refs)-1 {
			r.seg = j.seg
		}
		p.ring[(j.k+n)%len(p.ring)] <- r
	}
	var remote []int
	for n, c := range j.refs {
		if r, ok := obtainLocal(lr, c); ok {
			put(n, r)
		} else {
			remote = append(remote, n)
		}
	}
	var got [][]byte
	if batch != nil && len(remote) > 1 {
		refs := make([]wire.ChunkRef, len(remote))
		for i, n := range remote {
			refs[i] = j.refs[n]
		}
		got = batch.Chunks(ctx, rec, refs)
	}
	for i, n := range remote {
		c := j.refs[n]
		if i < len(got) && got[i] != nil && len(got[i]) == int(c.Size) {
			put(n, fetched{data: got[i]})
			continue
		}
		data, err := fetch(ctx, a.Content, Want{Rec: rec, Ref: c})
		put(n, fetched{data: data, err: err})
	}
}

// take returns the next chunk, waiting for it. The data stays valid
// until the next take or stop.
func (p *prefetcher) take(ctx context.Context) fetched {
	p.release()
	select {
	case r := <-p.ring[p.taken%len(p.ring)]:
		p.taken++
		<-p.slots
		p.held = r.buf
		return r
	case <-ctx.Done():
		return fetched{err: ctx.Err()}
	}
}

func (p *prefetcher) release() {
	putBuf(p.held)
	p.held = nil
}

// stop cancels what is still in flight and waits for the fetchers.
func (p *prefetcher) stop() {
	if p == nil {
		return
	}
	p.cancel() // a result has its ring entry to itself: nothing else blocks
	p.wg.Wait()
	p.release()
	for _, ch := range p.ring {
		select {
		case r := <-ch:
			putBuf(r.buf)
		default:
		}
	}
}

// localReader reads chunks from the local files the Local index points
// to, keeping the last file open: consecutive chunks usually come from
// the same one.
type localReader struct {
	a    *Applier
	open string
	f    *os.File
}

// find says where the Local index last saw c.
func (lr *localReader) find(c wire.ChunkRef) (path string, off int64, ok bool) {
	if lr.a.Local == nil {
		return "", 0, false
	}
	path, off, ok = lr.a.Local.FindChunk(c.Hash)
	return path, off, ok && off >= 0
}

// read fills data with c from path at off, where find saw it, and
// verifies it. Any failure just means fetching it instead.
func (lr *localReader) read(c wire.ChunkRef, path string, off int64, data []byte) ([]byte, bool) {
	log := lr.a.log()
	if err := lr.readAt(path, off, data); err != nil {
		log.Debug("local chunk unusable", "chunk", c.Hash, "file", path, "err", err)
		return nil, false
	}
	if wire.Sum(data) != c.Hash {
		log.Debug("local chunk stale", "chunk", c.Hash, "file", path)
		return nil, false
	}
	return data, true
}

func (lr *localReader) readAt(path string, off int64, data []byte) error {
	if path != lr.open {
		lr.close()
		f, err := lr.a.Root.Open(path)
		if err != nil {
			return err
		}
		lr.f, lr.open = f, path
	}
	_, err := lr.f.ReadAt(data, off)
	return err
}

func (lr *localReader) close() {
	if lr.f != nil {
		lr.f.Close()
		lr.f = nil
	}
	lr.open = ""
}
