package verify

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/watch"
)

// MaxDiffs caps the differences a Report lists; beyond it Truncated is set
// and the walk stops early, since one difference already disproves equality.
const MaxDiffs = 1000

// Kinds of Diff.
const (
	KindMissing   = "missing"   // wanted by the state, absent locally
	KindExtra     = "extra"     // present locally, absent or deleted in the state
	KindType      = "type"      // file, dir, symlink or something else
	KindContent   = "content"   // same size, different BLAKE3
	KindSize      = "size"      // file size
	KindMode      = "mode"      // permission bits 07777
	KindMTime     = "mtime"     // modification time, unix ns
	KindTarget    = "target"    // symlink target
	KindSparse    = "sparse"    // a file published sparse occupies far more than its data
	KindMalformed = "malformed" // a state record that cannot be decoded; Path is its subject
)

// Options say what to verify.
type Options struct {
	Folder string
	Root   string // the local directory that should equal the folder's state
	Logger *slog.Logger
	// MaxRate bounds how fast file content is read, in bytes per second
	// (0: as fast as the disk goes), for a scrub running beside other work.
	MaxRate int64
	// Ignore names parts of "equal" not to compare (see Ignorable).
	Ignore []string
	// SourceKey, if set, makes state records the source did not sign
	// malformed: the state they claim is not compared.
	SourceKey *sign.Verifier
	// Encryption is the key of an encrypted folder. Verify fails, saying
	// which key ids are in play, when it does not match the folder's.
	Encryption *seal.Key
}

// Diff is one difference between the published state and the local tree.
type Diff struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	Want string `json:"want,omitempty"`
	Got  string `json:"got,omitempty"`
}

// Report is the outcome of a verification. Entries, Files and Bytes count
// the published state; StreamSeq is the last state sequence read, so a
// report names exactly which state it proves.
type Report struct {
	Folder    string `json:"folder"`
	Root      string `json:"root"`
	StreamSeq uint64 `json:"stream_seq"`
	Entries   int64  `json:"entries"`
	Files     int64  `json:"files"`
	Bytes     int64  `json:"bytes"`
	Diffs     []Diff `json:"diffs"`
	Truncated bool   `json:"truncated"`
	Equal     bool   `json:"equal"`
	// Exclude are the folder meta's exclusion patterns; paths they match
	// (and .zfs at the root) are compared on neither side.
	Exclude []string `json:"exclude,omitempty"`
	// Excluded counts the local paths skipped as excluded, a directory
	// once with everything in it.
	Excluded int64 `json:"excluded"`
}

// add records d unless the list is full, in which case it marks the report
// truncated. It reports whether the caller may go on looking.
func (r *Report) add(d Diff) bool {
	if len(r.Diffs) >= MaxDiffs {
		r.Truncated = true
		return false
	}
	r.Diffs = append(r.Diffs, d)
	return true
}

func (r *Report) full() bool { return r.Truncated }

// Verify compares the tree at o.Root with the current published state of
// o.Folder. Differences are the report's business; an error means the
// verification itself could not be done (no such folder, broker gone,
// unreadable local file).
//
// Mtimes are compared to the nanosecond: the replica sets exactly the
// published value, which ext4, XFS, ZFS and UFS store exactly. A tree
// copied by other means onto a filesystem with coarser timestamps will
// show mtime differences.
func Verify(ctx context.Context, js jetstream.JetStream, o Options) (*Report, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "verify", "folder", o.Folder)
	root, err := checkRoot(o.Root)
	if err != nil {
		return nil, err
	}
	ignore, err := parseIgnore(o.Ignore)
	if err != nil {
		return nil, err
	}
	idx, err := openIndex()
	if err != nil {
		return nil, err
	}
	idx.key = o.SourceKey
	idx.seal = o.Encryption.For(o.Folder)
	defer idx.close(log)
	rep := &Report{Folder: o.Folder, Root: o.Root, Diffs: []Diff{}}
	excl, err := readExclude(ctx, js, o.Folder, o.SourceKey, idx.seal, rep)
	if err != nil {
		return nil, err
	}
	rep.Exclude = excl.Patterns()
	if err := idx.load(ctx, js, o.Folder, rep, excl, log); err != nil {
		return nil, err
	}
	if err := idx.tally(rep); err != nil {
		return nil, err
	}
	log.Info("state read", "entries", rep.Entries, "files", rep.Files, "bytes", rep.Bytes, "seq", rep.StreamSeq)
	if err := compareTree(ctx, idx, root, rep, newPacer(o.MaxRate), ignore, excl); err != nil {
		return nil, err
	}
	rep.Equal = len(rep.Diffs) == 0 && !rep.Truncated
	log.Info("verified", "equal", rep.Equal, "diffs", len(rep.Diffs), "truncated", rep.Truncated, "excluded", rep.Excluded)
	return rep, nil
}

// checkRoot makes sure root is a directory and returns the path to walk,
// resolved by the same rule as the source and its watcher, since the walk
// itself never follows links.
func checkRoot(root string) (string, error) {
	if root == "" {
		return "", errors.New("verify: no local root given")
	}
	return watch.ResolveRoot(root)
}
