package replica

import (
	"encoding/binary"

	"github.com/jetsync/jetsync/pkg/wire"
)

// appliedEntry is the state the replica applied to a path, and what the
// path looked like on disk right after, so an unchanged path is skipped
// with one lstat.
type appliedEntry struct {
	Type   wire.Type
	Mode   uint32
	MTime  int64
	Size   int64
	Hash   wire.Hash
	Target string
	Disk   fingerprint
	// Attrs is the record's wire.Record.AttrsDigest: owner, extended
	// attributes, ACL as applied (zero for records that say nothing of
	// them, and in entries of formats 1 and 2).
	Attrs wire.Hash
	// Link is the record's hard-link group ("" for none; format 3).
	Link string
	// Time is the applied record's publish time (format 3; 0 before):
	// an older record of the path is a replay (see replay.go).
	Time int64
}

// fingerprint is what lstat says about a path. Any write, chmod, chown
// or rename changes the ctime, so a file edited in place with its size
// and mtime put back still shows as changed.
type fingerprint struct {
	Ino   uint64
	Size  int64
	MTime int64
	Mode  uint32
	CTime int64 // 0 where the platform has none, and in entries of format 1
}

// same reports whether f and g describe the same, untouched file. A ctime
// of 0 on either side is unknown (an entry recorded before ctimes were)
// and not compared, so such entries still save a read.
func (f fingerprint) same(g fingerprint) bool {
	if f.CTime == 0 || g.CTime == 0 {
		f.CTime, g.CTime = 0, 0
	}
	return f == g
}

// matches reports whether r asks for what e says was applied, so that
// applying it again can be skipped.
func (e *appliedEntry) matches(r *wire.Record) bool {
	return e.Type == r.Type && e.Mode == r.Mode && e.MTime == r.MTime && e.Size == r.Size &&
		e.Hash == r.Hash && e.Target == r.Target && e.Attrs == r.AttrsDigest()
}

// typeCodes are the stored codes of the record types; they must never
// change, existing indexes hold them.
var typeCodes = map[wire.Type]byte{wire.File: 1, wire.Dir: 2, wire.Symlink: 3,
	wire.Fifo: 4, wire.CharDev: 5, wire.BlockDev: 6}

// marshal encodes e as format 3; the leading version byte lets a later
// format still read it.
func (e *appliedEntry) marshal() []byte {
	b := []byte{3, typeCodes[e.Type]}
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendVarint(b, e.MTime)
	b = binary.AppendVarint(b, e.Size)
	b = append(b, e.Hash[:]...)
	b = binary.AppendUvarint(b, e.Disk.Ino)
	b = binary.AppendVarint(b, e.Disk.Size)
	b = binary.AppendVarint(b, e.Disk.MTime)
	b = binary.AppendUvarint(b, uint64(e.Disk.Mode))
	b = binary.AppendVarint(b, e.Disk.CTime)
	b = append(b, e.Attrs[:]...)
	b = binary.AppendUvarint(b, uint64(len(e.Link)))
	b = append(b, e.Link...)
	b = binary.AppendVarint(b, e.Time)
	return append(b, e.Target...)
}

// unmarshalApplied decodes formats 1 to 3; anything else is errBadValue,
// so a damaged or newer value costs a re-check instead of an error.
func unmarshalApplied(b []byte) (*appliedEntry, error) {
	// Format 1 has no ctime; 2 adds it after the mode; 3 adds the
	// attributes' digest, the link group and the record's time after it.
	if len(b) < 2 || b[0] < 1 || b[0] > 3 {
		return nil, errBadValue
	}
	e := &appliedEntry{}
	for t, c := range typeCodes {
		if c == b[1] {
			e.Type = t
		}
	}
	r := reader{b: b[2:]}
	e.Mode = uint32(r.uvarint())
	e.MTime = r.varint()
	e.Size = r.varint()
	copy(e.Hash[:], r.bytes(32))
	e.Disk.Ino = r.uvarint()
	e.Disk.Size = r.varint()
	e.Disk.MTime = r.varint()
	e.Disk.Mode = uint32(r.uvarint())
	if b[0] >= 2 {
		e.Disk.CTime = r.varint()
	}
	if b[0] >= 3 {
		copy(e.Attrs[:], r.bytes(len(e.Attrs)))
		n := r.uvarint()
		if n > wire.MaxLinkLen {
			return nil, errBadValue
		}
		e.Link = string(r.bytes(int(n)))
		e.Time = r.varint()
	}
	e.Target = string(r.b)
	if r.err || e.Type == "" {
		return nil, errBadValue
	}
	return e, nil
}

// reader decodes a value field by field and remembers a failure, so that
// one check at the end covers every field.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.err = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
