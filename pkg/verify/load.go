package verify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/wire"
)

// batchSize is how many index changes share one bbolt transaction.
const batchSize = 4096

// load reads the latest state record of every path of folder into the
// index. The state stream keeps one message per path, so reading every
// state message in stream order, by batched direct gets up to the last
// sequence the stream had when the read started, reads each path's latest
// state; it is a consistent snapshot when the source is quiet. It needs no
// consumer: a replica's or the monitoring credentials may read it. A
// record that does not decode is reported as a KindMalformed diff.
func (x *index) load(ctx context.Context, js jetstream.JetStream, folder string, rep *Report, excl *exclude.Matcher,
	log *slog.Logger) error {
	s, err := bus.OpenStream(ctx, js, folder)
	if err != nil {
		return err
	}
	last := s.CachedInfo().State.LastSeq
	if last == 0 {
		return nil
	}
	ops := make([]op, 0, batchSize)
	n := 0
	err = bus.Scan(ctx, js.Conn(), wire.StreamName(folder), wire.StateFilter(folder), 1, last, func(m *bus.ScanMsg) error {
		rep.StreamSeq = m.Sequence
		if x.key != nil {
			if err := x.key.Verify(m.Header, m.Subject, m.Data); err != nil {
				// What the source did not sign is nobody's state.
				rep.add(Diff{Path: m.Subject, Kind: KindMalformed, Got: err.Error()})
				return nil
			}
		}
		if o, ok := x.recordOp(m.Subject, m.Data, rep, excl); ok {
			ops = append(ops, o)
		}
		if len(ops) == batchSize {
			if err := x.apply(ops); err != nil {
				return err
			}
			ops = ops[:0]
		}
		if n++; n%100000 == 0 {
			log.Info("reading state", "records", n, "pending", m.Pending)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read state of %s: %w", folder, err)
	}
	return x.apply(ops)
}

// recordOp turns one state message into an index change; the folder
// root's own record is kept aside (x.root). A path the patterns exclude
// is wanted by nobody.
func (x *index) recordOp(subject string, data []byte, rep *Report, excl *exclude.Matcher) (op, bool) {
	r, err := x.seal.DecodeRecord(subject, data)
	if err == nil && !strings.HasSuffix(subject, "."+x.seal.PathToken(r.Path)) {
		err = fmt.Errorf("%w: record for %q on the subject of another path", wire.ErrMalformed, r.Path)
	}
	if err != nil {
		rep.add(Diff{Path: subject, Kind: KindMalformed, Got: err.Error()})
		return op{}, false
	}
	if r.Path == wire.RootPath {
		w, err := decodeWant(encodeWant(r))
		if err != nil {
			return op{}, false
		}
		x.root = &w
		return op{}, false
	}
	if r.Type == wire.Deleted || excl.Excluded(r.Path, r.Type == wire.Dir) {
		return op{key: indexKey(r.Path)}, true
	}
	return op{key: indexKey(r.Path), val: encodeWant(r)}, true
}
