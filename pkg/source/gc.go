package source

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
)

// collectGarbage removes from the broker the chunks no current file needs:
// content of files since overwritten or deleted. It runs as a step of the
// control loop, after every publish has been acknowledged and indexed, so
// a chunk about to be referenced is never taken. A replica still applying
// an older state whose chunk is gone finds the newer state and skips it.
func (s *Source) collectGarbage(ctx context.Context) error {
	if err := s.barrier(ctx); err != nil {
		return err
	}
	s.com.flush()
	start := time.Now()
	var n int
	stream, err := s.js.Stream(ctx, wire.StreamName(s.cfg.Folder))
	if err == nil {
		n, err = s.ix.Sweep(s.pub.highest.Load(), func(hs []wire.Hash) error {
			return s.purgeChunks(ctx, stream, hs)
		})
	}
	if err != nil && ctx.Err() == nil {
		s.countError("gc", err.Error())
		s.log.Warn("chunk garbage collection stopped; will try again", "err", err, "purged", n)
		return nil
	}
	if n > 0 {
		s.log.Info("removed chunks no file needs any more", "chunks", n, "duration", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (s *Source) purgeChunks(ctx context.Context, stream jetstream.Stream, hs []wire.Hash) error {
	for _, h := range hs {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(wire.ChunkSubject(s.cfg.Folder, h))); err != nil {
			return fmt.Errorf("purge chunk %s: %w", h, err)
		}
		s.metrics.purged.Inc()
	}
	return nil
}
