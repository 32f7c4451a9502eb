package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
)

// StreamStats describes a folder's stream on the broker.
type StreamStats struct {
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	LastSeq  uint64 `json:"last_seq"`
	Subjects uint64 `json:"subjects"` // path states and the meta message; chunks in the cache
}

// FolderStatus is everything known about one folder. NoStream is set when
// daemons report on a folder whose stream does not exist (yet).
type FolderStatus struct {
	Folder   string      `json:"folder"`
	Stream   StreamStats `json:"stream"`
	NoStream bool        `json:"no_stream,omitempty"`
	// Cache is the folder's content cache, nil when it is off.
	Cache    *StreamStats      `json:"cache,omitempty"`
	Source   *bus.SourceStatus `json:"source,omitempty"`
	Replicas []Replica         `json:"replicas"`
}

// streamPrefix starts the name of every folder stream.
var streamPrefix = wire.StreamName("")

// Collect gathers the status of folder, or of every folder when folder is
// "": each folder stream, and each folder some daemon reports on. A
// missing status bucket means no daemon has reported yet. Asking for one
// folder that has neither a stream nor a report is bus.ErrNoFolder.
func Collect(ctx context.Context, js jetstream.JetStream, folder string) ([]FolderStatus, error) {
	streams, err := streamStats(ctx, js, folder)
	if err != nil {
		return nil, err
	}
	byFolder, err := reports(ctx, js, folder)
	if err != nil {
		return nil, err
	}
	for f, st := range streams {
		fs := folderOf(byFolder, f)
		fs.Stream = st
		if c, err := js.Stream(ctx, wire.CacheStreamName(f)); err == nil {
			cs := statsOf(c.CachedInfo())
			fs.Cache = &cs
		}
	}
	if folder != "" && len(byFolder) == 0 {
		return nil, fmt.Errorf("%w: %s", bus.ErrNoFolder, folder)
	}
	now := time.Now()
	out := make([]FolderStatus, 0, len(byFolder))
	for f, fs := range byFolder {
		_, has := streams[f]
		fs.NoStream = !has
		if err := viewReplicas(ctx, js, fs, now); err != nil {
			return nil, err
		}
		slices.SortFunc(fs.Replicas, func(a, b Replica) int { return strings.Compare(a.ID, b.ID) })
		out = append(out, *fs)
	}
	slices.SortFunc(out, func(a, b FolderStatus) int { return strings.Compare(a.Folder, b.Folder) })
	return out, nil
}

// viewReplicas replaces each replica's report by its effective view.
func viewReplicas(ctx context.Context, js jetstream.JetStream, fs *FolderStatus, now time.Time) error {
	if len(fs.Replicas) == 0 {
		return nil
	}
	var stream jetstream.Stream
	if !fs.NoStream {
		s, err := js.Stream(ctx, wire.StreamName(fs.Folder))
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("read stream %s: %w", wire.StreamName(fs.Folder), err)
		}
		stream = s
	}
	for i, r := range fs.Replicas {
		v, err := replicaView(ctx, stream, fs.Folder, r.ReplicaStatus, now)
		if err != nil {
			return fmt.Errorf("read the position of replica %s of %s: %w", r.ID, fs.Folder, err)
		}
		fs.Replicas[i] = v
	}
	return nil
}

func folderOf(m map[string]*FolderStatus, folder string) *FolderStatus {
	fs := m[folder]
	if fs == nil {
		fs = &FolderStatus{Folder: folder, Replicas: []Replica{}}
		m[folder] = fs
	}
	return fs
}

// streamStats reads the stream of folder, or of every folder.
func streamStats(ctx context.Context, js jetstream.JetStream, folder string) (map[string]StreamStats, error) {
	out := map[string]StreamStats{}
	if folder != "" {
		s, err := js.Stream(ctx, wire.StreamName(folder))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", wire.StreamName(folder), err)
		}
		out[folder] = statsOf(s.CachedInfo())
		return out, nil
	}
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		f, ok := strings.CutPrefix(info.Config.Name, streamPrefix)
		if ok && wire.ValidFolder(f) == nil {
			out[f] = statsOf(info)
		}
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return out, nil
}

func statsOf(info *jetstream.StreamInfo) StreamStats {
	s := info.State
	return StreamStats{Messages: s.Msgs, Bytes: s.Bytes, LastSeq: s.LastSeq, Subjects: s.NumSubjects}
}

// reports reads the status bucket: keys <folder>.source and
// <folder>.replica.<id>, for one folder or all. It reads the bucket's
// messages by direct gets (the bucket keeps one per key), so the
// monitoring credentials need no consumer.
func reports(ctx context.Context, js jetstream.JetStream, folder string) (map[string]*FolderStatus, error) {
	out := map[string]*FolderStatus{}
	kv, err := js.KeyValue(ctx, bus.StatusBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open status bucket: %w", err)
	}
	prefix := "$KV." + bus.StatusBucket + "."
	filter := prefix + ">"
	if folder != "" {
		filter = prefix + folder + ".>"
	}
	err = bus.Scan(ctx, js.Conn(), "KV_"+kv.Bucket(), filter, 1, 0, func(m *bus.ScanMsg) error {
		if m.Header.Get(kvOperation) == "" { // a value, not a delete marker
			addReport(out, strings.TrimPrefix(m.Subject, prefix), m.Data)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read status bucket: %w", err)
	}
	return out, nil
}

// kvOperation marks a key's delete or purge in a KV bucket.
const kvOperation = "KV-Operation"

// addReport files one status entry under its folder. An entry that does
// not decode still shows up, with the decoding error as its last error,
// so a daemon writing garbage is visible rather than silently absent.
func addReport(m map[string]*FolderStatus, key string, val []byte) {
	folder, rest, ok := strings.Cut(key, ".")
	if !ok || wire.ValidFolder(folder) != nil {
		return
	}
	switch {
	case rest == "source":
		var s bus.SourceStatus
		if err := json.Unmarshal(val, &s); err != nil {
			s = bus.SourceStatus{State: "unreadable", LastError: err.Error()}
		}
		s.Folder = folder
		folderOf(m, folder).Source = &s
	case strings.HasPrefix(rest, "replica."):
		var r bus.ReplicaStatus
		if err := json.Unmarshal(val, &r); err != nil {
			r = bus.ReplicaStatus{State: "unreadable", LastError: err.Error()}
		}
		if r.ID == "" {
			r.ID = strings.TrimPrefix(rest, "replica.")
		}
		r.Folder = folder
		fs := folderOf(m, folder)
		fs.Replicas = append(fs.Replicas, Replica{ReplicaStatus: r, ReportedState: r.State})
	}
}
