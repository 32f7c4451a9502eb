package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/wire"
)

// ErrEncryptionMismatch marks a folder the broker holds encrypted with
// another key than the source's, or encrypted while the source has no
// key, or the other way round. The source publishes nothing into it:
// replicas would find a mix they cannot apply, and a plain record in an
// encrypted folder would reveal what encryption was to hide.
var ErrEncryptionMismatch = errors.New("the folder on the broker is not encrypted as this source's is")

// checkEncryption compares how the folder on the broker is encrypted
// (its meta's key id, or without a readable meta, its newest state
// record) with this source's key.
func (s *Source) checkEncryption(ctx context.Context) error {
	st, err := s.js.Stream(ctx, wire.StreamName(s.cfg.Folder))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, wire.MetaSubject(s.cfg.Folder))
	switch {
	case err == nil:
		_, derr := s.keys.DecodeMeta(s.cfg.Folder, msg.Data)
		if derr == nil {
			return nil
		}
		if errors.Is(derr, seal.ErrKeyMismatch) {
			return s.mismatch(derr)
		}
		// A meta that does not decode is replaced (refreshMeta); the
		// records say how the folder is encrypted.
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("read folder meta: %w", err)
	}
	msg, err = st.GetLastMsgForSubject(ctx, wire.StateFilter(s.cfg.Folder))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil // an empty folder: this source decides
	case err != nil:
		return fmt.Errorf("read newest state record: %w", err)
	case seal.IsSealed(msg.Data) != (s.keys != nil):
		return s.mismatch(fmt.Errorf("folder %s holds records encrypted: %t, and this source encrypts: %t",
			s.cfg.Folder, seal.IsSealed(msg.Data), s.keys != nil))
	}
	if _, err := s.keys.DecodeRecord(msg.Subject, msg.Data); errors.Is(err, seal.ErrOpen) {
		return s.mismatch(fmt.Errorf("folder %s holds records encrypted with another key", s.cfg.Folder))
	}
	return nil
}

func (s *Source) mismatch(err error) error {
	s.metrics.errors.WithLabelValues("encryption_key").Inc()
	return fmt.Errorf("%w: %w; to change how a folder is encrypted, publish it under a new folder name, "+
		"or delete its streams %s and %s (with the administrator's credentials) and start again",
		ErrEncryptionMismatch, err, wire.StreamName(s.cfg.Folder), wire.CacheStreamName(s.cfg.Folder))
}
