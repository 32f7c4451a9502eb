package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StatusBucket is the KV bucket where daemons publish their status.
// Keys: <folder>.source and <folder>.replica.<id>.
const StatusBucket = "JETSYNC_STATUS"

// SourceStatus is what a source reports about its folder.
type SourceStatus struct {
	V            int    `json:"v"`
	ID           string `json:"id"`
	Folder       string `json:"folder"`
	State        string `json:"state"` // starting | scanning | live | recovering | cannot-publish
	Files        int64  `json:"files"`
	Dirs         int64  `json:"dirs"`
	Bytes        int64  `json:"bytes"`
	LastSeq      uint64 `json:"last_seq"`    // highest stream sequence the source has had acknowledged
	LastChange   int64  `json:"last_change"` // unix ns of the last change published
	Epoch        uint64 `json:"epoch"`
	Watched      int    `json:"watched"`
	WatchCapped  bool   `json:"watch_capped"`
	Errors       int64  `json:"errors"`
	LastError    string `json:"last_error,omitempty"`
	PendingFiles int64  `json:"pending_files"`
	Updated      int64  `json:"updated"` // unix ns
	// Sealed holds, in an encrypted folder, what the fields above show
	// as Redacted (see SealSource).
	Sealed string `json:"sealed,omitempty"` // base64
}

// ReplicaStatus is what a replica reports about its folder.
type ReplicaStatus struct {
	V          int     `json:"v"`
	ID         string  `json:"id"`
	Folder     string  `json:"folder"`
	State      string  `json:"state"` // reconciling | live | error
	AppliedSeq uint64  `json:"applied_seq"`
	Pending    uint64  `json:"pending"`
	LagSeconds float64 `json:"lag_seconds"`
	Applied    int64   `json:"applied"` // records applied since start
	Fetched    int64   `json:"fetched_bytes"`
	Reused     int64   `json:"reused_bytes"`
	Errors     int64   `json:"errors"`
	LastError  string  `json:"last_error,omitempty"`
	// LastErrorTime is when LastError happened (unix ns; 0: unknown), so
	// that an error long cleared reads as old news.
	LastErrorTime int64 `json:"last_error_time,omitempty"`
	// WaitingFor is a path whose content is neither on the replica nor in
	// the content cache while the source does not answer.
	WaitingFor string `json:"waiting_for,omitempty"`
	// Parked counts the records the replica set aside because it cannot
	// apply them yet (they count in Pending); Stuck names the first.
	Parked int    `json:"parked,omitempty"`
	Note   string `json:"note,omitempty"` // what the replica waits for, if State does not say
	// LastVerify is the last scheduled verify's outcome (nil: none yet);
	// VerifyEverySeconds is the schedule (0: none).
	LastVerify         *VerifyResult `json:"last_verify,omitempty"`
	VerifyEverySeconds float64       `json:"verify_every_seconds,omitempty"`

	Stuck   []StuckPath `json:"stuck,omitempty"`
	Epoch   uint64      `json:"epoch"`
	Updated int64       `json:"updated"` // unix ns
	// Sealed holds, in an encrypted folder, what the fields above show
	// as Redacted (see SealReplica).
	Sealed string `json:"sealed,omitempty"` // base64
}

// VerifyResult is the outcome of a replica's scheduled verify.
type VerifyResult struct {
	Time            int64   `json:"time"` // when it ended, unix ns
	Equal           bool    `json:"equal"`
	Diffs           int     `json:"diffs"`
	First           string  `json:"first,omitempty"` // the first difference
	DurationSeconds float64 `json:"duration_seconds"`
	Files           int64   `json:"files"`
	Bytes           int64   `json:"bytes"`
	Repairing       bool    `json:"repairing,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// StuckPath is a record a replica parked: retried with backoff until it
// applies or a newer state of its path replaces it.
type StuckPath struct {
	Path     string `json:"path"`
	Seq      uint64 `json:"seq"`
	Reason   string `json:"reason"`
	Since    int64  `json:"since"` // unix ns
	Attempts uint64 `json:"attempts"`
}

// StatusStreamConfig is the configuration of the status bucket's stream:
// a KV bucket (one value per key, no history) whose values cannot be
// rolled up. A rollup is a header, which no permission can forbid, and a
// daemon allowed to write its own key could otherwise wipe every other
// key with one "Nats-Rollup: all".
func StatusStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              "KV_" + StatusBucket,
		Description:       "jetsync daemon status",
		Subjects:          []string{"$KV." + StatusBucket + ".>"},
		Storage:           jetstream.FileStorage,
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxMsgs:           -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
		Discard:           jetstream.DiscardNew,
		Duplicates:        2 * time.Minute,
		DenyDelete:        true,
		AllowDirect:       true,
		AllowRollup:       false,
		Replicas:          max(replicas, 1),
	}
}

// StatusKV opens the status bucket, creating it if needed. An existing
// bucket is used as it is, so a daemon never rescales one that an
// operator or a source created with more replicas (SecureStatusBucket
// turns off the rollups of one created by an older release).
func StatusKV(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, StatusBucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("open status bucket: %w", err)
	}
	_, err = js.CreateStream(ctx, StatusStreamConfig(replicas))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("create status bucket: %w", err)
	}
	return js.KeyValue(ctx, StatusBucket)
}

// SecureStatusBucket turns off rollups in a status bucket created by a
// release that allowed them; it needs the right to update the bucket,
// which only the broker's administrator has. A missing bucket is left to
// be created by the first source.
func SecureStatusBucket(ctx context.Context, js jetstream.JetStream) error {
	s, err := js.Stream(ctx, "KV_"+StatusBucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secure status bucket: %w", err)
	}
	cfg := s.CachedInfo().Config
	if !cfg.AllowRollup {
		return nil
	}
	cfg.AllowRollup = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("secure status bucket: %w", err)
	}
	return nil
}

// PutStatus writes one daemon's status under key.
func PutStatus(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	if _, err := kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("put status %s: %w", key, err)
	}
	return nil
}

// SourceKey and ReplicaKey name status entries.
func SourceKey(folder string) string      { return folder + ".source" }
func ReplicaKey(folder, id string) string { return folder + ".replica." + IDToken(id) }
func ReplicaPrefix(folder string) string  { return folder + ".replica." }

// IDToken is a replica id as it appears in its status key: characters
// other than A-Z a-z 0-9 _ - become '_'.
func IDToken(id string) string { return strings.Map(keepKeyRune, id) }

// ReplicaConsumer is the name of the consumer a replica with this id reads
// its folder's stream with: jetsync-replica-<id>, the characters a
// consumer name may not hold replaced by '_'.
func ReplicaConsumer(id string) string {
	b := []byte("jetsync-replica-" + id)
	for i, c := range b {
		if c <= ' ' || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || c >= 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

func keepKeyRune(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
		return r
	}
	return '_'
}
