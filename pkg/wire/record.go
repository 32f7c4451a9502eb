package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Version is the version of the chunks, manifest blobs and folder meta
// this package writes, and the oldest state record version it reads.
const Version = 1

// RecordVersion is the version of the state records this package writes.
// Version 2 carries a small file's content as raw bytes after the JSON
// object instead of base64 inside it. Version 3 is version 2 whose chunks
// are not in the state stream: they come from the content cache or the
// source's content service, and a record may say it is cached. A replica
// that cannot fetch that way must stop at a version 3 record rather than
// wait for chunks that never come. Version 4 adds the attributes of Attrs
// (owners, extended attributes, ACLs, hard-link groups, sparse extents,
// special files, exclusion). DecodeRecord reads all four.
const RecordVersion = 4

const (
	// MaxRecordLen bounds an encoded state record.
	MaxRecordLen = 256 << 10
	// MaxInlineChunks is the longest chunk list carried in a record; longer
	// lists go to manifest blobs so records stay far below max_payload.
	MaxInlineChunks = 1024
	// MaxFileSize bounds the size a record may announce (1 PiB).
	MaxFileSize = 1 << 50
	// MaxInlineSize is the largest file whose content a record may carry
	// (Record.Data) instead of a chunk list. Sources of this release
	// inline only up to InlineSize; older ones did up to this size.
	MaxInlineSize = 32 << 10
	// InlineSize is the largest file a source puts in its record: one
	// message and no fetch per small file, for a broker store that stays
	// a small fraction of the tree (files of up to 4 KiB are about 5 % of
	// the bytes of a tree of 1-64 KiB files, up to 32 KiB about half).
	InlineSize = 4 << 10
)

var (
	// ErrMalformed marks a message that cannot be decoded or is inconsistent.
	ErrMalformed = errors.New("malformed message")
	// ErrVersion marks a message of a version this build does not know.
	ErrVersion = errors.New("unsupported message version")
)

// Type is the kind of a path's state.
type Type string

// Path types. Deleted is a tombstone.
const (
	File    Type = "file"
	Dir     Type = "dir"
	Symlink Type = "symlink"
	Deleted Type = "deleted"
)

// ChunkRef names one piece of a file's content.
type ChunkRef struct {
	Hash Hash   `json:"h"`
	Size uint32 `json:"n"`
}

// Record is the latest state of one path, as published by the source.
// Paths and targets are byte strings; the JSON form carries them base64
// encoded when they are not valid UTF-8, so any name round-trips.
type Record struct {
	Epoch uint64 // source epoch, see docs/PROTOCOL.md
	Path  string
	Type  Type
	Mode  uint32 // permission bits (07777)
	MTime int64  // unix nanoseconds
	Size  int64
	Hash  Hash // BLAKE3 of the whole content (files)
	// Chunks lists the content in order, or Manifest lists the blobs that
	// hold that list when it is longer than MaxInlineChunks.
	Chunks   []ChunkRef
	Manifest []ChunkRef
	// Data is the content of a file of at most MaxInlineSize bytes, as a
	// chunk payload (see EncodeChunk), instead of Chunks.
	Data   []byte
	Target string // symlink target
	Time   int64  // unix nanoseconds when published, for lag
	// Cached says the source put the file's chunks into the folder's
	// content cache when it published this record (version 3).
	Cached bool
	// V is the version the record was decoded from (0 for one built here).
	V int
	Attrs
}

type recordJSON struct {
	V        int        `json:"v"`
	Epoch    uint64     `json:"epoch"`
	Path     string     `json:"path,omitempty"`
	PathB    []byte     `json:"path_b64,omitempty"`
	Type     Type       `json:"type"`
	Mode     uint32     `json:"mode,omitempty"`
	MTime    int64      `json:"mtime,omitempty"`
	Size     int64      `json:"size,omitempty"`
	Hash     *Hash      `json:"hash,omitempty"`
	Chunks   []ChunkRef `json:"chunks,omitempty"`
	Manifest []ChunkRef `json:"manifest,omitempty"`
	Data     []byte     `json:"data,omitempty"` // version 1 only
	Target   string     `json:"target,omitempty"`
	TargetB  []byte     `json:"target_b64,omitempty"`
	Time     int64      `json:"time,omitempty"`
	Cached   bool       `json:"cached,omitempty"` // version 3
	attrsJSON
}

// dataSep ends the JSON object of a version 2 record that carries
// content; the content follows it. Compact JSON never contains a newline.
const dataSep = '\n'

// EncodeRecord validates r and returns its wire form: the JSON object,
// then, for a file carried inline, a newline and its content payload.
func EncodeRecord(r *Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	j := recordJSON{V: RecordVersion, Epoch: r.Epoch, Type: r.Type, Mode: r.Mode, MTime: r.MTime,
		Size: r.Size, Chunks: r.Chunks, Manifest: r.Manifest, Time: r.Time, Cached: r.Cached, attrsJSON: r.Attrs.toJSON()}
	j.Path, j.PathB = splitUTF8(r.Path)
	j.Target, j.TargetB = splitUTF8(r.Target)
	if r.Type == File {
		h := r.Hash
		j.Hash = &h
	}
	b, err := json.Marshal(&j)
	if err != nil || r.Data == nil {
		return b, err
	}
	out := make([]byte, 0, len(b)+1+len(r.Data))
	out = append(append(append(out, b...), dataSep), r.Data...)
	return out, nil
}

// DecodeRecord parses and validates a state record of version 1 to 4.
// The record's Data aliases b.
func DecodeRecord(b []byte) (*Record, error) {
	if len(b) > MaxRecordLen {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrMalformed, len(b))
	}
	obj, data, inline := bytes.Cut(b, []byte{dataSep})
	var j recordJSON
	if err := json.Unmarshal(obj, &j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch j.V {
	case 1:
		// Version 1 has the content in "data"; a newline is only
		// whitespace there.
		if len(bytes.TrimSpace(data)) > 0 {
			return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
		}
	case 2, 3, RecordVersion:
		if j.Data != nil {
			return nil, fmt.Errorf("%w: version %d record with a data field", ErrMalformed, j.V)
		}
		if inline {
			j.Data = data
		}
	default:
		return nil, versionError(j.V)
	}
	if j.Cached && j.V < 3 {
		return nil, fmt.Errorf("%w: version %d record with a cached field", ErrMalformed, j.V)
	}
	if j.V < 4 && (!j.attrsJSON.empty() || j.Type.Special()) {
		return nil, fmt.Errorf("%w: version %d record with version 4 fields", ErrMalformed, j.V)
	}
	r := &Record{V: j.V, Cached: j.Cached, Epoch: j.Epoch, Type: j.Type, Mode: j.Mode, MTime: j.MTime, Size: j.Size,
		Chunks: j.Chunks, Manifest: j.Manifest, Data: j.Data, Time: j.Time, Attrs: j.attrsJSON.attrs()}
	var err error
	if r.Path, err = joinUTF8(j.Path, j.PathB); err != nil {
		return nil, err
	}
	if r.Target, err = joinUTF8(j.Target, j.TargetB); err != nil {
		return nil, err
	}
	if j.Hash != nil {
		r.Hash = *j.Hash
	}
	if err := r.Validate(); err != nil {
		if ValidPath(r.Path) == nil {
			// Say which path: the log of a rejected record names it.
			return nil, fmt.Errorf("record of %s: %w", r.Path, err)
		}
		return nil, err
	}
	return r, nil
}

// Validate checks the invariants every record must satisfy.
func (r *Record) Validate() error {
	if r.Path == RootPath {
		if r.Type != Dir || r.V != 0 && r.V < 4 {
			return fmt.Errorf("%w: a %s record of the folder root", ErrBadPath, r.Type)
		}
	} else if err := ValidPath(r.Path); err != nil {
		return err
	}
	if r.Mode&^0o7777 != 0 {
		return fmt.Errorf("%w: mode %o", ErrMalformed, r.Mode)
	}
	if err := r.validateAttrs(); err != nil {
		return err
	}
	switch r.Type {
	case File:
		return r.validateFile()
	case Symlink:
		return ValidTarget(r.Target)
	case Dir, Deleted, Fifo, CharDev, BlockDev:
		if len(r.Chunks) > 0 || len(r.Manifest) > 0 || r.Data != nil || r.Target != "" {
			return fmt.Errorf("%w: %s record with content", ErrMalformed, r.Type)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown type %q", ErrMalformed, r.Type)
	}
}

func (r *Record) validateFile() error {
	switch {
	case r.Size < 0 || r.Size > MaxFileSize:
		return fmt.Errorf("%w: size %d", ErrMalformed, r.Size)
	case r.Hash.IsZero():
		return fmt.Errorf("%w: file without hash", ErrMalformed)
	case len(r.Chunks) > MaxInlineChunks:
		return fmt.Errorf("%w: %d inline chunks", ErrMalformed, len(r.Chunks))
	case len(r.Chunks) > 0 && len(r.Manifest) > 0:
		return fmt.Errorf("%w: both chunks and manifest", ErrMalformed)
	case r.Target != "":
		return fmt.Errorf("%w: file with symlink target", ErrMalformed)
	case r.Data != nil:
		return r.validateInline()
	}
	if len(r.Manifest) > 0 {
		return r.checkManifest()
	}
	if err := checkChunks(r.Chunks, MaxChunkLen); err != nil {
		return err
	}
	if total := sumSizes(r.Chunks); total != r.DataLen() {
		return fmt.Errorf("%w: chunks add up to %d, data is %d bytes", ErrMalformed, total, r.DataLen())
	}
	return nil
}

// validateInline checks a file carried in its record: no chunk lists, and
// a payload that announces the record's size (DecodeChunk checks the rest
// against the hash).
func (r *Record) validateInline() error {
	switch {
	case len(r.Chunks) > 0 || len(r.Manifest) > 0:
		return fmt.Errorf("%w: inline content with chunk lists", ErrMalformed)
	case r.DataLen() > MaxInlineSize:
		return fmt.Errorf("%w: inline content for %d bytes", ErrMalformed, r.DataLen())
	}
	n, err := ChunkLen(r.Data)
	if err != nil {
		return err
	}
	if int64(n) != r.DataLen() {
		return fmt.Errorf("%w: inline content of %d bytes, data is %d bytes", ErrMalformed, n, r.DataLen())
	}
	return nil
}

func checkChunks(cs []ChunkRef, max uint32) error {
	for _, c := range cs {
		if c.Size == 0 || c.Size > max || c.Hash.IsZero() {
			return fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, c.Size)
		}
	}
	return nil
}

func sumSizes(cs []ChunkRef) int64 {
	var n int64
	for _, c := range cs {
		n += int64(c.Size)
	}
	return n
}

func splitUTF8(s string) (string, []byte) {
	if utf8.ValidString(s) {
		return s, nil
	}
	return "", []byte(s)
}

func joinUTF8(s string, b []byte) (string, error) {
	if s != "" && b != nil {
		return "", fmt.Errorf("%w: both text and base64 forms", ErrMalformed)
	}
	if b != nil {
		return string(b), nil
	}
	return s, nil
}

// versionError sorts a record version this build cannot read: only a
// version newer than it knows is a future format to wait for (ErrVersion);
// anything else (0, negative, absent) is garbage.
func versionError(v int) error {
	if v > RecordVersion {
		return fmt.Errorf("%w: %d", ErrVersion, v)
	}
	return fmt.Errorf("%w: record version %d", ErrMalformed, v)
}
