package index

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jetsync/jetsync/pkg/wire"
)

// ErrCorrupt marks an index value that cannot be decoded.
var ErrCorrupt = errors.New("corrupt index value")

// The first byte of every stored entry. Version 2 is version 1 followed
// by a sparse file's extents; an entry without extents is stored as
// version 1, so older entries and newer dense ones read alike.
const (
	entryVersion       = 1
	entryVersionSparse = 2
)

// Stat is what change detection compares: a path whose lstat gives the
// same Stat as its entry is unchanged. Mode holds the 07777 bits.
type Stat struct {
	Type  wire.Type
	Mode  uint32
	MTime int64 // unix nanoseconds
	Size  int64
	Ino   uint64
	CTime int64 // unix nanoseconds
}

// Entry is what the index knows about one path.
//
// Type is wire.File, Dir, Symlink, a special type (Fifo, CharDev,
// BlockDev) or Deleted (a tombstone). Iterators
// return Type "" for a path they cannot vouch for: a directory known only
// through its descendants, or a value that failed to decode. Such an entry
// has Seq 0, so the source publishes or tombstones it again.
type Entry struct {
	Path string
	Stat
	Hash     wire.Hash // whole-file hash (files)
	Target   string    // symlink target
	Seq      uint64    // stream sequence of the published record; 0 = not published
	Chunks   []wire.ChunkRef
	Manifest []wire.ChunkRef // manifest blobs, when the chunk list did not fit the record
	// Extents are a sparse file's data ranges, published as its record's
	// Extents: its chunks hold their bytes only. nil for a dense file.
	Extents []wire.Extent

	// Subtree is set by Children when entries exist below this path. It
	// is not stored.
	Subtree bool
}

// Published reports whether e's record is known to be on the broker.
func (e *Entry) Published() bool { return e.Seq != 0 }

// onStream reports whether the state stream must hold e's record, or a
// newer state of its path: a file, directory or symlink the broker
// acknowledged (or a FIFO or device node). A tombstone may be gone (see
// --tombstone-ttl).
func (e *Entry) onStream() bool {
	return e.Seq != 0 && (e.Type == wire.File || e.Type == wire.Dir || e.Type == wire.Symlink || e.Type.Special())
}

var typeCodes = map[wire.Type]byte{wire.File: 1, wire.Dir: 2, wire.Symlink: 3, wire.Deleted: 4,
	wire.Fifo: 5, wire.CharDev: 6, wire.BlockDev: 7}

var codeTypes = [...]wire.Type{1: wire.File, 2: wire.Dir, 3: wire.Symlink, 4: wire.Deleted,
	5: wire.Fifo, 6: wire.CharDev, 7: wire.BlockDev}

// encodeEntry returns the stored form of e (its Path is the key).
func encodeEntry(e *Entry) ([]byte, error) {
	code, ok := typeCodes[e.Type]
	if !ok {
		return nil, fmt.Errorf("encode entry %q: unknown type %q", e.Path, e.Type)
	}
	b := make([]byte, 0, 64+len(e.Target)+36*(len(e.Chunks)+len(e.Manifest)))
	version := byte(entryVersion)
	if e.Extents != nil {
		version = entryVersionSparse
	}
	b = append(b, version, code)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendVarint(b, e.MTime)
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendUvarint(b, e.Ino)
	b = binary.AppendVarint(b, e.CTime)
	b = binary.AppendUvarint(b, e.Seq)
	if e.Type == wire.File {
		b = append(b, e.Hash[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Target)))
	b = append(b, e.Target...)
	b = appendRefs(b, e.Chunks)
	b = appendRefs(b, e.Manifest)
	if e.Extents != nil {
		b = binary.AppendUvarint(b, uint64(len(e.Extents)))
		for _, x := range e.Extents {
			b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(x.Off)), uint64(x.Len))
		}
	}
	return b, nil
}

func appendRefs(b []byte, refs []wire.ChunkRef) []byte {
	b = binary.AppendUvarint(b, uint64(len(refs)))
	for _, r := range refs {
		b = append(b, r.Hash[:]...)
		b = binary.AppendUvarint(b, uint64(r.Size))
	}
	return b
}

// decodeEntry parses a stored entry. With full unset it stops after the
// symlink target and leaves Chunks and Manifest nil, which is all a scan
// needs and spares decoding long chunk lists.
func decodeEntry(path string, b []byte, full bool) (*Entry, error) {
	d := decoder{b: b}
	e := &Entry{Path: path}
	sparse := len(b) > 0 && b[0] == entryVersionSparse
	d.header(e)
	if full {
		e.Chunks = d.refs()
		e.Manifest = d.refs()
		if sparse {
			e.Extents = d.extents(e.Size)
		}
		if d.err == nil && len(d.b) != 0 {
			d.fail("%d trailing bytes", len(d.b))
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode entry %q: %w", path, d.err)
	}
	return e, nil
}

// decoder reads fields in order and remembers the first error, so the
// field list reads like the format.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) header(e *Entry) {
	if len(d.b) < 2 || (d.b[0] != entryVersion && d.b[0] != entryVersionSparse) {
		d.fail("bad version or length")
		return
	}
	if int(d.b[1]) >= len(codeTypes) || codeTypes[d.b[1]] == "" {
		d.fail("type %d", d.b[1])
		return
	}
	e.Type = codeTypes[d.b[1]]
	d.b = d.b[2:]
	mode := d.uvarint()
	if mode&^0o7777 != 0 {
		d.fail("mode %o", mode)
	}
	e.Mode = uint32(mode)
	e.MTime, e.Size = d.varint(), d.varint()
	e.Ino, e.CTime, e.Seq = d.uvarint(), d.varint(), d.uvarint()
	if e.Size < 0 {
		d.fail("size %d", e.Size)
	}
	if e.Type == wire.File {
		copy(e.Hash[:], d.bytes(len(e.Hash)))
	}
	n := d.uvarint()
	if n > wire.MaxTargetLen {
		d.fail("target of %d bytes", n)
		return
	}
	e.Target = string(d.bytes(int(n)))
}

func (d *decoder) refs() []wire.ChunkRef {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	// Each ref takes at least 33 bytes, which bounds the allocation by the
	// input size whatever the count claims.
	if n > uint64(len(d.b)/33) {
		d.fail("%d chunk refs in %d bytes", n, len(d.b))
		return nil
	}
	if n == 0 {
		return nil
	}
	refs := make([]wire.ChunkRef, n)
	for i := range refs {
		copy(refs[i].Hash[:], d.bytes(len(refs[i].Hash)))
		size := d.uvarint()
		if d.err == nil && (size == 0 || size > wire.MaxChunkLen) {
			d.fail("chunk of %d bytes", size)
		}
		refs[i].Size = uint32(size)
	}
	if d.err != nil {
		return nil
	}
	return refs
}

// extents reads a sparse file's data ranges, which must be in order, not
// touching, not empty and within size.
func (d *decoder) extents(size int64) []wire.Extent {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > wire.MaxExtents || n > uint64(len(d.b)/2) {
		d.fail("%d extents in %d bytes", n, len(d.b))
		return nil
	}
	ext := make([]wire.Extent, n)
	var end int64
	for i := range ext {
		off, l := d.uvarint(), d.uvarint()
		if d.err == nil && (l == 0 || off > uint64(size) || l > uint64(size)-off || (i > 0 && int64(off) <= end)) {
			d.fail("extent %d+%d", off, l)
		}
		if d.err != nil {
			return nil
		}
		ext[i] = wire.Extent{Off: int64(off), Len: int64(l)}
		end = ext[i].End()
	}
	return ext
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated field")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
