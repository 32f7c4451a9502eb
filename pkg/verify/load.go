package verify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// batchSize is how many index changes share one bbolt transaction.
const batchSize = 4096

// load reads the latest state record of every path of folder into the
// index. The ordered consumer delivers the last message per subject in
// stream order and stops when the broker says nothing is pending, so the
// read is a consistent snapshot when the source is quiet. A record that
// does not decode is reported as a KindMalformed diff.
func (x *index) load(ctx context.Context, js jetstream.JetStream, folder string, rep *Report, log *slog.Logger) error {
	s, err := bus.OpenStream(ctx, js, folder)
	if err != nil {
		return err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{wire.StateFilter(folder)},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("read state of %s: %w", folder, err)
	}
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return nil
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read state of %s: %w", folder, err)
	}
	defer msgs.Stop()
	return x.consume(ctx, msgs, rep, log)
}

func (x *index) consume(ctx context.Context, msgs jetstream.MessagesContext, rep *Report, log *slog.Logger) error {
	ops := make([]op, 0, batchSize)
	for n := 1; ; n++ {
		msg, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read state record: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read state record metadata: %w", err)
		}
		rep.StreamSeq = meta.Sequence.Stream
		if o, ok := recordOp(msg, rep); ok {
			ops = append(ops, o)
		}
		if len(ops) == batchSize || meta.NumPending == 0 {
			if err := x.apply(ops); err != nil {
				return err
			}
			ops = ops[:0]
		}
		if n%100000 == 0 {
			log.Info("reading state", "records", n, "pending", meta.NumPending)
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}

// recordOp turns one state message into an index change.
func recordOp(msg jetstream.Msg, rep *Report) (op, bool) {
	r, err := wire.DecodeRecord(msg.Data())
	if err == nil && !strings.HasSuffix(msg.Subject(), "."+wire.PathKey(r.Path)) {
		err = fmt.Errorf("%w: record for %q on the subject of another path", wire.ErrMalformed, r.Path)
	}
	if err != nil {
		rep.add(Diff{Path: msg.Subject(), Kind: KindMalformed, Got: err.Error()})
		return op{}, false
	}
	if r.Type == wire.Deleted {
		return op{key: indexKey(r.Path)}, true
	}
	return op{key: indexKey(r.Path), val: encodeWant(r)}, true
}
