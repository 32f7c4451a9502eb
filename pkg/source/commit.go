package source

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// Index batching: commit every commitInterval or commitMax items.
var (
	commitInterval = 100 * time.Millisecond
	commitMax      = 512
)

// commitItem is an acknowledged entry or chunk, or a flush request.
type commitItem struct {
	entry     *index.Entry
	chunk     wire.Hash
	chunkSeq  uint64
	chunkWait *chunkWait // the publish to forget once committed
	// unpublished is the entry of a record whose publish failed after it
	// was sent: it may be on the broker all the same.
	unpublished *index.Entry
	flush       chan struct{}
}

// committer writes acknowledged state to the index in batches; nothing
// reaches the index before the broker acknowledged it.
type committer struct {
	ix     *index.Index
	in     chan commitItem
	chunks *chunkTable
	log    *slog.Logger
	onErr  func(kind, msg string)
	stop   <-chan struct{}
}

func newCommitter(ix *index.Index, chunks *chunkTable, log *slog.Logger, onErr func(string, string)) *committer {
	return &committer{ix: ix, in: make(chan commitItem, 2*commitMax), chunks: chunks, log: log, onErr: onErr}
}

// put queues an item; it gives up only when the committer has stopped.
func (c *committer) put(it commitItem) {
	select {
	case c.in <- it:
	case <-c.stop:
	}
}

// flush returns once everything queued before it is committed.
func (c *committer) flush() {
	done := make(chan struct{})
	c.put(commitItem{flush: done})
	select {
	case <-done:
	case <-c.stop:
	}
}

func (c *committer) run(ctx context.Context) {
	tick := time.NewTicker(commitInterval)
	defer tick.Stop()
	var batch []commitItem
	for {
		select {
		case it := <-c.in:
			batch = append(batch, it)
			if it.flush != nil || len(batch) >= commitMax {
				batch = c.commit(batch)
			}
		case <-tick.C:
			batch = c.commit(batch)
		case <-ctx.Done():
			c.commit(c.drain(batch))
			return
		}
	}
}

func (c *committer) drain(batch []commitItem) []commitItem {
	for {
		select {
		case it := <-c.in:
			batch = append(batch, it)
		default:
			return batch
		}
	}
}

// commit writes batch in one transaction and returns it emptied. A failed
// write is logged and dropped: those paths stay unpublished in the index
// and are published again, which is harmless.
func (c *committer) commit(batch []commitItem) []commitItem {
	if len(batch) == 0 {
		return batch
	}
	err := c.ix.Batch(func(tx *index.Tx) error {
		for _, it := range batch {
			if err := c.apply(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("cannot write the index; the affected paths will be published again", "err", err)
		c.onErr("index", err.Error())
	}
	for _, it := range batch {
		switch {
		case it.flush != nil:
			close(it.flush)
		case it.chunkWait != nil:
			c.chunks.release(it.chunk, it.chunkWait)
		}
	}
	return batch[:0]
}

func (c *committer) apply(tx *index.Tx, it commitItem) error {
	switch {
	case it.entry != nil:
		tx.Acked(it.entry.Seq)
		return tx.Put(it.entry)
	case it.unpublished != nil:
		return tx.MarkUnpublished(it.unpublished.Path, it.unpublished.Type)
	case it.flush == nil:
		tx.Acked(it.chunkSeq)
		return tx.PutChunk(it.chunk, it.chunkSeq)
	}
	return nil
}

// chunkWait is one chunk publish that files can wait for.
type chunkWait struct {
	sent chan struct{} // closed once the publish was handed to the connection, or failed
	done chan struct{} // closed once it is settled; err says how
	err  error
}

// awaitSent waits until the chunk was sent (see sendChunk).
func (w *chunkWait) awaitSent(abort <-chan struct{}) error {
	select {
	case <-w.sent:
		return nil
	case <-abort:
		return errStopped
	}
}

func (w *chunkWait) finish(err error) {
	w.err = err
	close(w.done)
}

// chunkTable holds the chunks being published or acknowledged but not yet
// in the index, so each is sent once even when several files share it.
type chunkTable struct {
	mu sync.Mutex
	m  map[wire.Hash]*chunkWait
}

func newChunkTable() *chunkTable { return &chunkTable{m: make(map[wire.Hash]*chunkWait)} }

func (t *chunkTable) get(h wire.Hash) *chunkWait {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[h]
}

// claim returns the existing wait for h, or registers a new one and
// reports that the caller must publish it.
func (t *chunkTable) claim(h wire.Hash) (*chunkWait, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, ok := t.m[h]; ok {
		return w, false
	}
	w := &chunkWait{sent: make(chan struct{}), done: make(chan struct{})}
	t.m[h] = w
	return w, true
}

// fail ends a publish that did not succeed; the next file needing the
// chunk publishes it again.
func (t *chunkTable) fail(h wire.Hash, w *chunkWait, err error) {
	t.mu.Lock()
	if t.m[h] == w {
		delete(t.m, h)
	}
	t.mu.Unlock()
	w.finish(err)
}

// release forgets an acknowledged chunk once the index has it, unless it
// was republished meanwhile.
func (t *chunkTable) release(h wire.Hash, w *chunkWait) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[h] == w {
		delete(t.m, h)
	}
}

// reset forgets every chunk in flight; used by recovery once nothing is.
func (t *chunkTable) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = make(map[wire.Hash]*chunkWait)
}
