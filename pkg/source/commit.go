package source

import (
	"context"
	"log/slog"
	"time"

	"github.com/jetsync/jetsync/pkg/index"
)

// Index batching: commit every commitInterval or commitMax items.
var (
	commitInterval = 100 * time.Millisecond
	commitMax      = 512
)

// commitItem is an acknowledged entry, or a flush request.
type commitItem struct {
	entry *index.Entry
	// unpublished is the entry of a record whose publish failed after it
	// was sent: it may be on the broker all the same.
	unpublished *index.Entry
	// forget drops entry's path from the index instead of storing it: an
	// excluded tombstone was acknowledged.
	forget bool
	flush  chan struct{}
	// root is the digest of the folder root's state just acknowledged at
	// rootSeq (see visitRoot).
	root    []byte
	rootSeq uint64
}

// committer writes acknowledged state to the index in batches; nothing
// reaches the index before the broker acknowledged it.
type committer struct {
	ix *index.Index
	in chan commitItem
	// committed is told of every entry once its batch is written (or
	// failed to be written); may be nil.
	committed func(*index.Entry)
	log       *slog.Logger
	onErr     func(kind, msg string)
	stop      <-chan struct{}
}

func newCommitter(ix *index.Index, log *slog.Logger, onErr func(string, string)) *committer {
	return &committer{ix: ix, in: make(chan commitItem, 2*commitMax), log: log, onErr: onErr}
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
		case c.committed != nil && it.entry != nil:
			c.committed(it.entry)
		case c.committed != nil && it.unpublished != nil:
			c.committed(it.unpublished)
		}
	}
	return batch[:0]
}

func (c *committer) apply(tx *index.Tx, it commitItem) error {
	switch {
	case it.entry != nil:
		tx.Acked(it.entry.Seq)
		if it.forget {
			return tx.Delete(it.entry.Path)
		}
		return tx.Put(it.entry)
	case it.unpublished != nil:
		return tx.MarkUnpublished(it.unpublished.Path, it.unpublished.Type)
	case it.root != nil:
		tx.Acked(it.rootSeq)
		return tx.SetRootState(it.root)
	}
	return nil
}
