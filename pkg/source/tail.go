package source

import (
	"context"
	"fmt"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// tailBatch is how many unacknowledged records share one index
// transaction when a tail is adopted.
const tailBatch = 1024

// adoptTail handles the state records the broker stored after the last
// sequence the index knows as acknowledged (after), up to last: a source
// killed between a broker ack and its index commit, or a publish whose ack
// was lost, leaves such records behind. Their paths are marked
// unpublished, so the next scan republishes or tombstones each one and no
// stale record outlives it. The records are read by direct gets, so the
// source needs no consumer on its stream.
func (s *Source) adoptTail(ctx context.Context, after, last uint64) error {
	if last <= after {
		return nil
	}
	var batch []*wire.Record
	marked := 0
	err := bus.Scan(ctx, s.nc, wire.StreamName(s.cfg.Folder), wire.StateFilter(s.cfg.Folder), after+1, last,
		func(m *bus.ScanMsg) error {
			rec, err := s.keys.DecodeRecord(m.Subject, m.Data)
			if err != nil {
				s.log.Warn("ignoring an unreadable record in the unacknowledged tail", "subject", m.Subject, "err", err)
				return nil
			}
			if rec.Path == wire.RootPath {
				// The root has no entry: forget what the index says was
				// published of it, and the next scan publishes it again.
				return s.ix.SetRootState(nil)
			}
			if batch = append(batch, rec); len(batch) == tailBatch {
				if err := s.markUnpublished(batch); err != nil {
					return err
				}
				marked += len(batch)
				batch = batch[:0]
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("read records after sequence %d: %w", after, err)
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
