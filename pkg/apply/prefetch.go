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

type fetched struct {
	data  []byte
	local bool    // read from a local file, not fetched
	buf   *[]byte // pooled buffer holding data, to give back (putBuf)
	err   error
}

// prefetcher obtains the chunks of one file in order, at most
// prefetchWindow ahead of the chunk being written.
type prefetcher struct {
	results []chan fetched // by chunk index
	slots   chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	held    *[]byte // buffer of the result last taken, given back on the next take
}

// startPrefetch starts obtaining the chunks of cs, each from a local file
// when a (with a Local index) finds it there intact, else from
// a.Content. It returns nil when cs has fewer than two chunks: one has
// nothing to overlap with.
func startPrefetch(ctx context.Context, a *Applier, rec *wire.Record, cs []wire.ChunkRef) *prefetcher {
	if len(cs) < 2 {
		return nil
	}
	window, span := prefetchWindow, 1
	batch, _ := a.Content.(BatchContent)
	if batch != nil && len(cs) >= batchFrom {
		window, span = batchWindow, batchLen
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{results: make([]chan fetched, len(cs)), slots: make(chan struct{}, window), cancel: cancel}
	for i := range p.results {
		p.results[i] = make(chan fetched, 1)
	}
	jobs := make(chan [2]int)
	for range min(window/span, (len(cs)+span-1)/span) {
		p.wg.Go(func() {
			lr := &localReader{a: a}
			defer lr.close()
			for r := range jobs {
				p.obtainRange(ctx, a, lr, rec, cs, r[0], r[1], batch)
			}
		})
	}
	p.wg.Go(func() { defer close(jobs); p.feed(ctx, jobs, len(cs), span) })
	return p
}

// feed hands out the ranges of span chunks in order, taking a slot of the
// window for each chunk first.
func (p *prefetcher) feed(ctx context.Context, jobs chan<- [2]int, n, span int) {
	for i := 0; i < n; i += span {
		j := min(i+span, n)
		for range j - i {
			select {
			case p.slots <- struct{}{}: // freed when the writer takes a result
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- [2]int{i, j}:
		case <-ctx.Done():
			return
		}
	}
}

// obtainRange obtains chunks i to j-1: each from a local file if one holds
// it, the others in one request when batch is set and there are several,
// else one by one. A chunk the batch did not bring is fetched alone, with
// the content source's retries and errors.
func (p *prefetcher) obtainRange(ctx context.Context, a *Applier, lr *localReader, rec *wire.Record, cs []wire.ChunkRef, i, j int, batch BatchContent) {
	var remote []int
	for k := i; k < j; k++ {
		if r, ok := obtainLocal(lr, cs[k]); ok {
			p.results[k] <- r
		} else {
			remote = append(remote, k)
		}
	}
	var got [][]byte
	if batch != nil && len(remote) > 1 {
		refs := make([]wire.ChunkRef, len(remote))
		for n, k := range remote {
			refs[n] = cs[k]
		}
		got = batch.Chunks(ctx, rec, refs)
	}
	for n, k := range remote {
		if n < len(got) && got[n] != nil && len(got[n]) == int(cs[k].Size) {
			p.results[k] <- fetched{data: got[n]}
			continue
		}
		data, err := fetch(ctx, a.Content, Want{Rec: rec, Ref: cs[k]})
		p.results[k] <- fetched{data: data, err: err}
	}
}

// take returns chunk i, waiting for it; ok is false without a prefetcher.
// The data stays valid until the next take or stop.
func (p *prefetcher) take(ctx context.Context, i int) (r fetched, ok bool) {
	if p == nil {
		return fetched{}, false
	}
	p.release()
	select {
	case r = <-p.results[i]:
		<-p.slots
		p.held = r.buf
		return r, true
	case <-ctx.Done():
		return fetched{err: ctx.Err()}, true
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
	p.cancel() // result channels have room for one value: nothing else blocks
	p.wg.Wait()
	p.release()
	for _, ch := range p.results {
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
