package chunk

import (
	"github.com/zeebo/blake3"

	"github.com/jetsync/jetsync/pkg/wire"
)

// Hasher computes the BLAKE3 hash of a stream written to it piece by
// piece. Past asyncAfter bytes it hashes on a goroutine of its own, on
// copies of what is written, so that a big file's whole-stream hash runs
// on another core than the caller's own per-byte work (chunking, chunk
// hashes, verification, writing). A Hasher is used by one goroutine; it
// must be finished with Sum or Stop once written to.
type Hasher struct {
	h    *blake3.Hasher
	n    int64
	work chan []byte // to the hashing goroutine; nil while hashing inline
	free chan []byte // buffers back from it
	done chan struct{}
}

const (
	// asyncAfter is the stream length from which hashing moves to its own
	// goroutine: below it the hand-over costs more than it saves.
	asyncAfter = 1 << 20
	// hashDepth is how many pieces may wait for the hashing goroutine.
	hashDepth = 4
)

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher { return &Hasher{h: blake3.New()} }

// Reset makes the Hasher empty again, stopping a hashing goroutine.
func (h *Hasher) Reset() {
	h.Stop()
	h.h.Reset()
	h.n = 0
}

// Write adds p to the stream. p may be reused as soon as Write returns.
func (h *Hasher) Write(p []byte) {
	h.n += int64(len(p))
	if h.work == nil {
		if h.n < asyncAfter {
			_, _ = h.h.Write(p)
			return
		}
		h.start()
	}
	buf := <-h.free // waits while hashDepth pieces are queued
	buf = append(buf[:0], p...)
	h.work <- buf
}

func (h *Hasher) start() {
	h.work = make(chan []byte, hashDepth)
	h.free = make(chan []byte, hashDepth)
	for range hashDepth {
		h.free <- nil // allocated on first use, then reused
	}
	h.done = make(chan struct{})
	go func(work <-chan []byte, free chan<- []byte, done chan<- struct{}) {
		defer close(done)
		for b := range work {
			_, _ = h.h.Write(b)
			free <- b
		}
	}(h.work, h.free, h.done)
}

// Sum returns the hash of everything written since the last Reset and
// the stream's length.
func (h *Hasher) Sum() (wire.Hash, int64) {
	h.Stop()
	var sum wire.Hash
	h.h.Sum(sum[:0])
	return sum, h.n
}

// Stop waits for the hashing goroutine, if any, to finish what it was
// given and end. Written data stays hashed; more may be written after.
func (h *Hasher) Stop() {
	if h.work == nil {
		return
	}
	close(h.work)
	<-h.done
	h.work, h.free, h.done = nil, nil, nil
}
