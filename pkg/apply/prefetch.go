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
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{results: make([]chan fetched, len(cs)), slots: make(chan struct{}, prefetchWindow), cancel: cancel}
	for i := range p.results {
		p.results[i] = make(chan fetched, 1)
	}
	jobs := make(chan int)
	for range min(prefetchWindow, len(cs)) {
		p.wg.Go(func() {
			lr := &localReader{a: a}
			defer lr.close()
			for i := range jobs {
				p.results[i] <- obtain(ctx, a, lr, Want{Rec: rec, Ref: cs[i]})
			}
		})
	}
	p.wg.Go(func() {
		defer close(jobs)
		for i := range cs {
			select {
			case p.slots <- struct{}{}: // freed when the writer takes a result
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	return p
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
