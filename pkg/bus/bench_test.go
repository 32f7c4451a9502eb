package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/wire"
)

// BenchmarkPublish measures what per-write fsync (sync_interval: always)
// costs on the folder stream for the messages a source publishes: one
// chunk and one state record per small file. See docs/PROTOCOL.md.
func BenchmarkPublish(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync_always=%v", sync), func(b *testing.B) {
			br := jstest.Start(b, broker.Config{SyncAlways: sync})
			nc := jstest.Connect(b, br)
			js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
			ctx := context.Background()
			if _, _, err := bus.EnsureStream(ctx, js, "bench", bus.StreamOptions{}); err != nil {
				b.Fatal(err)
			}
			payload := wire.EncodeChunk(nil, make([]byte, 4096), wire.NoCompression)
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := js.PublishAsync(wire.StateSubject("bench", fmt.Sprint(i)), payload, jetstream.WithStallWait(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
			}
		})
	}
}
