package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/index"
	"github.com/jetsync/jetsync/pkg/wire"
)

// rootDigest sums the folder root's state as a record would carry it and
// its lstat, which the index keeps (the root has no entry: it is no path
// of the tree) so that a restart over an unchanged root publishes
// nothing. A recovery from broker data loss forgets it (index.MarkLost,
// ResetAll), and the root is published again.
func rootDigest(st index.Stat, rec *wire.Record) []byte {
	b := binary.AppendVarint(nil, st.MTime)
	b = binary.AppendUvarint(b, uint64(st.Mode))
	b = binary.AppendUvarint(b, st.Ino)
	b = binary.AppendVarint(b, st.CTime)
	d := rec.AttrsDigest()
	b = append(b, d[:]...)
	h := wire.Sum(b)
	return h[:]
}

// visitRoot publishes the root directory's mode, mtime, owner and
// attributes when they differ from what the broker has.
func (s *Source) visitRoot(ctx context.Context) error {
	fi, err := os.Stat(s.cfg.Root) // the root is resolved as the walk resolves it
	if err != nil || !fi.IsDir() || s.rootEmpty.Load() {
		return nil // the walk reports a missing root
	}
	cur := statOf(fi)
	attrs, err := s.attrsOf(wire.RootPath, fi)
	if err != nil {
		s.log.Error("cannot read the folder root's attributes; will retry at the next scan", "err", err)
		s.countError("read", err.Error())
		return nil
	}
	rec := &wire.Record{Path: wire.RootPath, Type: wire.Dir, Mode: cur.Mode, MTime: cur.MTime, Attrs: attrs}
	digest := rootDigest(cur, rec)
	if old, err := s.ix.RootState(); err == nil && bytes.Equal(old, digest) {
		return nil
	}
	rec.Epoch = s.bv.epoch.Load()
	rec.Time = s.clock.next()
	subject, data, err := s.keys.EncodeRecord(s.cfg.Folder, rec)
	if err != nil {
		return err
	}
	s.track.add()
	msg := &nats.Msg{Subject: subject, Data: data}
	s.signer.Sign(msg)
	err = s.pub.publish(ctx, msg, func(a ack) {
		defer s.track.done()
		if a.err != nil {
			return // the next scan tries again
		}
		s.metrics.records.Inc()
		s.com.put(commitItem{root: digest, rootSeq: a.seq})
	})
	if err != nil {
		s.track.done()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("cannot publish the folder root's state; will retry at the next scan", "err", err)
	}
	return nil
}

// topLevel reports whether any of paths lies directly in the root, whose
// mtime a change of it moves.
func topLevel(paths ...[]string) bool {
	for _, list := range paths {
		for _, p := range list {
			if !strings.Contains(p, "/") {
				return true
			}
		}
	}
	return false
}
