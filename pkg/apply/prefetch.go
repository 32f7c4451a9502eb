package apply

import (
	"context"
	"sync"

	"github.com/jetsync/jetsync/pkg/wire"
)

// prefetchWindow is how many chunks of one file are fetched ahead of the
// writer. Each fetch is a broker round trip; overlapping them is what
// makes a big file arrive at the link's speed rather than at one chunk per
// round trip. It bounds the memory too: window × the largest chunk.
const prefetchWindow = 8

type fetched struct {
	data []byte
	err  error
}

// prefetcher fetches the chunks of one file that no local file holds, in
// order, at most prefetchWindow ahead of the chunk being written.
type prefetcher struct {
	results map[int]chan fetched // chunk index → its fetch
	slots   chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startPrefetch starts fetching the chunks of cs for which remote says so.
// It returns nil when fewer than two chunks need fetching: one fetch has
// nothing to overlap with.
func startPrefetch(ctx context.Context, content Content, cs []wire.ChunkRef, remote func(wire.ChunkRef) bool) *prefetcher {
	var idx []int
	for i, c := range cs {
		if remote(c) {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{results: make(map[int]chan fetched, len(idx)), slots: make(chan struct{}, prefetchWindow), cancel: cancel}
	for _, i := range idx {
		p.results[i] = make(chan fetched, 1)
	}
	jobs := make(chan int)
	for range min(prefetchWindow, len(idx)) {
		p.wg.Go(func() {
			for i := range jobs {
				data, err := fetch(ctx, content, cs[i])
				p.results[i] <- fetched{data, err}
			}
		})
	}
	p.wg.Go(func() {
		defer close(jobs)
		for _, i := range idx {
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

// take returns the fetch of chunk i, waiting for it; ok is false if chunk
// i was not prefetched.
func (p *prefetcher) take(ctx context.Context, i int) (r fetched, ok bool) {
	if p == nil {
		return fetched{}, false
	}
	ch, ok := p.results[i]
	if !ok {
		return fetched{}, false
	}
	select {
	case r = <-ch:
		<-p.slots
		return r, true
	case <-ctx.Done():
		return fetched{err: ctx.Err()}, true
	}
}

// stop cancels what is still in flight and waits for the fetchers.
func (p *prefetcher) stop() {
	if p == nil {
		return
	}
	p.cancel() // result channels have room for one value: nothing else blocks
	p.wg.Wait()
}
