package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/wire"
)

// readExclude returns the matcher of the folder meta's exclusion
// patterns (none without a meta: then only exclude.Builtin applies).
func readExclude(ctx context.Context, js jetstream.JetStream, folder string) (*exclude.Matcher, error) {
	s, err := bus.OpenStream(ctx, js, folder)
	if err != nil {
		return nil, err
	}
	msg, err := s.GetLastMsgForSubject(ctx, wire.MetaSubject(folder))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read folder meta: %w", err)
	}
	meta, err := wire.DecodeMeta(msg.Data)
	if err != nil {
		return nil, fmt.Errorf("read folder meta: %w", err)
	}
	m, err := exclude.Compile(meta.Exclude)
	if err != nil {
		return nil, fmt.Errorf("read folder meta: %w", err)
	}
	return m, nil
}
