package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/wire"
)

// StreamOptions are the operator's choices for a folder stream.
type StreamOptions struct {
	Replicas int   // 1 standalone, 3 for an R3 cluster
	MaxBytes int64 // 0 = unlimited
}

// StreamConfig is the documented configuration of a folder's state
// stream: one message per subject (the latest state of each path), file
// storage, and direct gets. It holds no content: see CacheConfig.
func StreamConfig(folder string, o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              wire.StreamName(folder),
		Description:       "jetsync folder " + folder + ": path states and meta",
		Subjects:          wire.StateSubjects(folder),
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

// EnsureStream creates the folder's state stream or brings its
// configuration in line, upgrading a stream of an older release first
// (see Upgrade, whose count of removed chunks it returns); it is
// idempotent.
func EnsureStream(ctx context.Context, js jetstream.JetStream, folder string, o StreamOptions) (jetstream.Stream, uint64, error) {
	upgraded, err := Upgrade(ctx, js, folder)
	if err != nil {
		return nil, 0, err
	}
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig(folder, o))
	if err != nil {
		return nil, upgraded, fmt.Errorf("ensure stream %s: %w", wire.StreamName(folder), err)
	}
	return s, upgraded, nil
}

// Upgrade converts a folder stream created by a release that kept content
// in it (subjects jetsync.F.>, chunks on jetsync.F.c.*): it purges the
// chunk subjects, then narrows the stream to the state subjects, which
// frees jetsync.F.c.> for the content cache. State records, their
// sequences and the stream's creation time stay, so replicas keep their
// positions and fetch nothing again. It returns the number of chunk
// messages removed; a stream already upgraded, or none, is left alone.
// Interrupted, it is simply run again.
func Upgrade(ctx context.Context, js jetstream.JetStream, folder string) (uint64, error) {
	s, err := js.Stream(ctx, wire.StreamName(folder))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("upgrade stream %s: %w", wire.StreamName(folder), err)
	}
	cfg := s.CachedInfo().Config
	if !slices.Contains(cfg.Subjects, wire.LegacyFolderSubjects(folder)) {
		return 0, nil
	}
	before := s.CachedInfo().State.Msgs
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(wire.CacheFilter(folder))); err != nil {
		return 0, fmt.Errorf("upgrade stream %s: purge chunks: %w", wire.StreamName(folder), err)
	}
	cfg.Subjects = wire.StateSubjects(folder)
	cfg.Description = StreamConfig(folder, StreamOptions{}).Description
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return 0, fmt.Errorf("upgrade stream %s: narrow subjects: %w", wire.StreamName(folder), err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("upgrade stream %s: %w", wire.StreamName(folder), err)
	}
	return before - min(before, info.State.Msgs), nil
}

// CacheConfig is the configuration of a folder's content cache: chunks
// of recent live changes, one message per chunk, at most maxBytes in all
// (the oldest go first), so that replicas can apply recent changes while
// the source is unreachable. Its limits never touch the state stream.
func CacheConfig(folder string, maxBytes int64, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              wire.CacheStreamName(folder),
		Description:       "jetsync folder " + folder + ": content cache of recent changes",
		Subjects:          []string{wire.CacheFilter(folder)},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxBytes:          max(maxBytes, MinCacheBytes),
		MaxMsgs:           -1,
		MaxMsgSize:        wire.MaxChunkLen + 4096,
		Duplicates:        2 * time.Minute,
		Replicas:          max(replicas, 1),
		AllowDirect:       true,
	}
}

// MinCacheBytes is the smallest content cache: a few of the largest chunks.
const MinCacheBytes = 4 * (wire.MaxChunkLen + 4096)

// EnsureCache creates or resizes the folder's content cache; maxBytes <= 0
// removes it (the cache is off).
func EnsureCache(ctx context.Context, js jetstream.JetStream, folder string, maxBytes int64, replicas int) error {
	if maxBytes <= 0 {
		err := js.DeleteStream(ctx, wire.CacheStreamName(folder))
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("remove content cache %s: %w", wire.CacheStreamName(folder), err)
		}
		return nil
	}
	if _, err := js.CreateOrUpdateStream(ctx, CacheConfig(folder, maxBytes, replicas)); err != nil {
		return fmt.Errorf("ensure content cache %s: %w", wire.CacheStreamName(folder), err)
	}
	return nil
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
