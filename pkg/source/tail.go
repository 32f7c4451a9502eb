package source

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// tailBatch is how many unacknowledged records share one index
// transaction when a tail is adopted.
const tailBatch = 1024

// tailReadTimeout bounds the wait for each record of the tail.
var tailReadTimeout = 10 * time.Second

// adoptTail handles the state records the broker stored after the last
// sequence the index knows as acknowledged (after), up to last: a source
// killed between a broker ack and its index commit, or a publish whose ack
// was lost, leaves such records behind. Their paths are marked
// unpublished, so the next scan republishes or tombstones each one and no
// stale record outlives it.
func (s *Source) adoptTail(ctx context.Context, after, last uint64) error {
	if last <= after {
		return nil
	}
	stream, err := s.js.Stream(ctx, wire.StreamName(s.cfg.Folder))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{wire.StateFilter(s.cfg.Folder)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
	})
	if err != nil {
		return fmt.Errorf("read records after sequence %d: %w", after, err)
	}
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return nil
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read records after sequence %d: %w", after, err)
	}
	defer msgs.Stop()
	var batch []*wire.Record
	marked := 0
	for done := false; !done; {
		nctx, cancel := context.WithTimeout(ctx, tailReadTimeout)
		msg, err := msgs.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			return fmt.Errorf("read records after sequence %d: %w", after, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read record metadata: %w", err)
		}
		done = meta.NumPending == 0 || meta.Sequence.Stream >= last
		if meta.Sequence.Stream > last {
			break // published by this run: acknowledged and tracked
		}
		rec, err := wire.DecodeRecord(msg.Data())
		if err != nil {
			s.log.Warn("ignoring an unreadable record in the unacknowledged tail", "subject", msg.Subject(), "err", err)
			continue
		}
		if batch = append(batch, rec); len(batch) == tailBatch {
			if err := s.markUnpublished(batch); err != nil {
				return err
			}
			marked += len(batch)
			batch = batch[:0]
		}
	}
	if err := s.markUnpublished(batch); err != nil {
		return err
	}
	marked += len(batch)
	if marked > 0 {
		s.log.Info("found records the index had not recorded; their paths will be examined again",
			"records", marked, "after_seq", after, "last_seq", last)
	}
	return nil
}

func (s *Source) markUnpublished(recs []*wire.Record) error {
	if len(recs) == 0 {
		return nil
	}
	err := s.ix.Batch(func(tx *index.Tx) error {
		for _, r := range recs {
			if err := tx.MarkUnpublished(r.Path, r.Type); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		s.retry.add(r.Path) // a scan would find them too, but may be far off
	}
	return nil
}
