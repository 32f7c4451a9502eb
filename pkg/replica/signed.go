package replica

import (
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/wire"
)

// checkSigned verifies the source's signature of a state record or folder
// meta when the replica was given the source's key; a message that fails
// is malformed for every purpose (counted, logged, never applied).
func (r *Replica) checkSigned(h nats.Header, subject string, data []byte) error {
	if r.cfg.SourceKey == nil {
		return nil
	}
	if err := r.cfg.SourceKey.Verify(h, subject, data); err != nil {
		r.metrics.errors.WithLabelValues("bad_signature").Inc()
		return fmt.Errorf("%w: %w", wire.ErrMalformed, err)
	}
	return nil
}

func (p *pipeline) checkSigned(h nats.Header, subject string, data []byte) error {
	return p.checkSig(h, subject, data)
}
