package wire

import (
	"encoding/json"
	"fmt"
)

// Meta is the folder meta message. The source bumps Epoch whenever it finds
// the broker has lost messages it had acknowledged and republishes; a
// replica that sees a new epoch reconciles against the full state.
type Meta struct {
	V      int    `json:"v"`
	Epoch  uint64 `json:"epoch"`
	Source string `json:"source"` // source instance id
	Time   int64  `json:"time"`   // unix nanoseconds
	// TombstoneTTL is how long the broker keeps a tombstone (nanoseconds,
	// 0 = forever). A replica that was not caught up for longer than this
	// may have missed deletes and reconciles.
	TombstoneTTL int64 `json:"tombstone_ttl,omitempty"`
	// Partial says the source is still publishing the full state of this
	// epoch (after a broker loss or with a new index): paths missing from
	// the stream may just not be republished yet, so a replica must not
	// delete local paths for their absence until a meta without Partial.
	Partial bool `json:"partial,omitempty"`
	// Exclude lists, in order, the exclusion patterns the source walks
	// the tree with (version 3; see package exclude for their syntax).
	// Replicas and verify leave paths they match alone: the source does
	// not publish them, and they may exist on a replica all the same.
	Exclude []string `json:"exclude,omitempty"`
	// KeyID and Sealed make an encrypted folder's meta (version 4): the
	// id of the folder's encryption key, and every other field, as a
	// meta of its own, sealed with it (see package seal). Nothing else is
	// in the clear, and a replica without that key stops at the version.
	KeyID  string `json:"key_id,omitempty"`
	Sealed []byte `json:"sealed,omitempty"`
}

// MetaVersion is the newest version of the folder meta this package
// writes. Version 2 has the fields of version 1 and says that the folder's
// content is not in its state stream (see RecordVersion 3): a replica of a
// release that fetched chunks from the state stream stops at session
// start, with an unsupported version, before it reads any record. Version
// 3 adds Exclude: a replica that could not honour the patterns (it would
// delete excluded paths when it reconciles) stops the same way. Version 4
// is the envelope of an encrypted folder's meta (KeyID and Sealed only).
// DecodeMeta reads all four.
const MetaVersion = 4

// metaVersionExclude is the first folder meta version with Exclude.
const metaVersionExclude = 3

// MetaVersionSealed is the version of an encrypted folder's meta.
const MetaVersionSealed = 4

// Version is the version m is written at: the oldest that holds what it
// says, so that a folder without exclusion patterns stays readable by
// replicas that know version 2.
func (m Meta) Version() int {
	if m.KeyID != "" {
		return MetaVersionSealed
	}
	if len(m.Exclude) > 0 {
		return metaVersionExclude
	}
	return 2
}

// EncodeMeta returns the wire form of m, at m.Version().
func EncodeMeta(m Meta) []byte {
	m.V = m.Version()
	b, _ := json.Marshal(m)
	return b
}

// DecodeMeta parses a folder meta message.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) > MaxRecordLen {
		return m, fmt.Errorf("%w: meta of %d bytes", ErrMalformed, len(b))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: meta: %v", ErrMalformed, err)
	}
	switch {
	case m.V > MetaVersion:
		return m, fmt.Errorf("%w: meta %d", ErrVersion, m.V)
	case m.V < Version:
		return m, fmt.Errorf("%w: meta version %d", ErrMalformed, m.V)
	case m.Exclude != nil && m.V < metaVersionExclude:
		return m, fmt.Errorf("%w: meta version %d with exclusion patterns", ErrMalformed, m.V)
	case (m.V == MetaVersionSealed) != (m.KeyID != "" && m.Sealed != nil):
		return m, fmt.Errorf("%w: meta version %d with key id %q and %d sealed bytes", ErrMalformed, m.V, m.KeyID, len(m.Sealed))
	case m.V == MetaVersionSealed && m.clearFields():
		return m, fmt.Errorf("%w: encrypted meta with fields in the clear", ErrMalformed)
	}
	return m, nil
}

// clearFields says whether m has any field besides the version and the
// encryption envelope.
func (m Meta) clearFields() bool {
	return m.Epoch != 0 || m.Source != "" || m.Time != 0 || m.TombstoneTTL != 0 || m.Partial || m.Exclude != nil
}
