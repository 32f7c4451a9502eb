package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/exclude"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/wire"
)

// readExclude returns the matcher of the folder meta's exclusion
// patterns (none without a meta: then only exclude.Builtin applies). A
// meta the trusted key did not sign is reported malformed, and its
// patterns are not used. A folder encrypted with another key than keys
// (or none) is an error: nothing of it can be compared.
func readExclude(ctx context.Context, js jetstream.JetStream, folder string, key *sign.Verifier, keys *seal.FolderKeys,
	rep *Report) (*exclude.Matcher, error) {
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
	if key != nil {
		if err := key.Verify(msg.Header, msg.Subject, msg.Data); err != nil {
			rep.add(Diff{Path: msg.Subject, Kind: KindMalformed, Got: err.Error()})
			return nil, nil
		}
	}
	meta, err := keys.DecodeMeta(folder, msg.Data)
	if err != nil {
		return nil, fmt.Errorf("read folder meta: %w", err)
	}
	m, err := exclude.Compile(meta.Exclude)
	if err != nil {
		return nil, fmt.Errorf("read folder meta: %w", err)
	}
	return m, nil
}
