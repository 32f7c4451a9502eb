package chunk

import (
	"sync"

	"github.com/jetsync/jetsync/pkg/wire"
)

// hashPipe takes the chunk hashes and the per-chunk callback of a big
// stream off the chunking goroutine: chunks are copied, hashed on one
// goroutine and handed to fn, in order, on another. The chunker, the
// chunk hashes, fn (publishing, on a source) and the whole-stream Hasher
// then run on as many cores as there are.
type hashPipe struct {
	fn       func(h wire.Hash, data []byte) error
	work     chan *pipeJob // to the hasher, in order
	out      chan *pipeJob // to the deliverer, in order
	free     chan []byte
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error // the first error fn returned; later chunks are dropped
	finished bool
}

type pipeJob struct {
	data  []byte
	h     wire.Hash
	ready chan struct{} // closed once h is set
}

// pipeDepth is how many chunks may be between the chunker and fn.
const pipeDepth = 8

func startHashPipe(fn func(h wire.Hash, data []byte) error) *hashPipe {
	p := &hashPipe{fn: fn, work: make(chan *pipeJob, pipeDepth), out: make(chan *pipeJob, pipeDepth),
		free: make(chan []byte, pipeDepth)}
	for range pipeDepth {
		p.free <- nil // allocated on first use, then reused
	}
	p.wg.Go(func() {
		for j := range p.work {
			j.h = wire.Sum(j.data)
			close(j.ready)
		}
	})
	p.wg.Go(func() {
		for j := range p.out {
			<-j.ready
			if p.failed() == nil {
				if err := p.fn(j.h, j.data); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
				}
			}
			p.free <- j.data
		}
	})
	return p
}

func (p *hashPipe) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// put queues a copy of data; it returns fn's error once fn has failed.
func (p *hashPipe) put(data []byte) error {
	if err := p.failed(); err != nil {
		return err
	}
	buf := append((<-p.free)[:0], data...)
	j := &pipeJob{data: buf, ready: make(chan struct{})}
	p.work <- j
	p.out <- j
	return nil
}

// finish waits until fn has seen every chunk put and returns its first
// error. It may be called more than once, and on a nil pipe.
func (p *hashPipe) finish() error {
	if p == nil {
		return nil
	}
	if !p.finished {
		p.finished = true
		close(p.work)
		close(p.out)
		p.wg.Wait()
	}
	return p.failed()
}
