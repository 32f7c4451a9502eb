package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
)

// StreamOptions are the operator's choices for a folder stream.
type StreamOptions struct {
	Replicas int   // 1 standalone, 3 for an R3 cluster
	MaxBytes int64 // 0 = unlimited
}

// StreamConfig is the documented configuration of a folder's stream: one
// message per subject (the latest state of each path, each chunk once),
// file storage, direct gets for chunk fetches, and a duplicate window that
// lets a source republish a chunk harmlessly.
func StreamConfig(folder string, o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              wire.StreamName(folder),
		Description:       "jetsync folder " + folder + ": path states, content chunks, meta",
		Subjects:          []string{wire.FolderSubjects(folder)},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxBytes:          orUnlimited(o.MaxBytes),
		MaxMsgs:           -1,
		MaxAge:            0,
		MaxMsgSize:        wire.MaxChunkLen + 4096,
		Duplicates:        2 * time.Minute,
		Replicas:          max(o.Replicas, 1),
		AllowDirect:       true,
		AllowMsgTTL:       true, // tombstones may carry Nats-TTL, see --tombstone-ttl
		AllowRollup:       false,
		DenyDelete:        false,
		DenyPurge:         false,
	}
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// EnsureStream creates the folder stream or brings its configuration in
// line; it is idempotent.
func EnsureStream(ctx context.Context, js jetstream.JetStream, folder string, o StreamOptions) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig(folder, o))
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", wire.StreamName(folder), err)
	}
	return s, nil
}

// OpenStream returns the folder stream, or ErrNoFolder if no source has
// created it yet.
func OpenStream(ctx context.Context, js jetstream.JetStream, folder string) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, wire.StreamName(folder))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoFolder, folder)
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", wire.StreamName(folder), err)
	}
	return s, nil
}

// ErrNoFolder means the broker has no stream for the folder.
var ErrNoFolder = errors.New("no such folder on the broker (has its source started?)")

// LastStateSeq is the stream sequence of the newest state record of the
// folder, 0 when there is none.
func LastStateSeq(ctx context.Context, stream jetstream.Stream, folder string) (uint64, error) {
	m, err := stream.GetLastMsgForSubject(ctx, wire.StateFilter(folder))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read last state: %w", err)
	}
	return m.Sequence, nil
}
