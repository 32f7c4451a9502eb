package fsmeta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Xattrs is a file's set of extended attributes: full name (with its
// namespace prefix, "user.comment") to value.
type Xattrs map[string][]byte

// Limits of an xattr set, enforced when encoding and decoding. Linux
// allows 64 KiB per value; the total keeps one file's record bounded.
const (
	MaxXattrName  = 255
	MaxXattrValue = 64 << 10
	MaxXattrTotal = 1 << 20
	MaxXattrCount = 4096
	xattrVersion  = 1
)

// ErrXattrsTooLarge reports a set over the limits above.
var ErrXattrsTooLarge = errors.New("extended attributes over the size limits")

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed encoding")

// Names returns the names of x, sorted.
func (x Xattrs) Names() []string {
	names := make([]string, 0, len(x))
	for n := range x {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkXattr validates one attribute's name and value.
func checkXattr(name string, value []byte) error {
	if name == "" || len(name) > MaxXattrName || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("xattr name %q: %w", name, errMalformed)
	}
	if len(value) > MaxXattrValue {
		return fmt.Errorf("xattr %s: %d bytes: %w", name, len(value), ErrXattrsTooLarge)
	}
	return nil
}

// EncodeXattrs returns the canonical encoding of x: a version byte, the
// count, then each attribute sorted by name as a length-prefixed name and
// a length-prefixed value (lengths as unsigned varints). An empty set
// encodes to nil.
func EncodeXattrs(x Xattrs) ([]byte, error) {
	if len(x) == 0 {
		return nil, nil
	}
	if len(x) > MaxXattrCount {
		return nil, fmt.Errorf("%d xattrs: %w", len(x), ErrXattrsTooLarge)
	}
	total := 0
	for n, v := range x {
		if err := checkXattr(n, v); err != nil {
			return nil, err
		}
		total += len(n) + len(v)
	}
	if total > MaxXattrTotal {
		return nil, fmt.Errorf("xattrs of %d bytes: %w", total, ErrXattrsTooLarge)
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen32*(1+2*len(x))+total)
	b = append(b, xattrVersion)
	b = binary.AppendUvarint(b, uint64(len(x)))
	for _, n := range x.Names() {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, uint64(len(x[n])))
		b = append(b, x[n]...)
	}
	return b, nil
}

// DecodeXattrs decodes an EncodeXattrs encoding, rejecting anything that
// is not canonical (unsorted or repeated names, padded lengths, trailing
// bytes) or over the limits. Empty input is the empty set.
func DecodeXattrs(b []byte) (Xattrs, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != xattrVersion {
		return nil, fmt.Errorf("decode xattrs: version %d: %w", b[0], errMalformed)
	}
	d := decoder{b: b[1:]}
	count := d.length(MaxXattrCount)
	if d.err == nil && count == 0 {
		d.fail("empty set not encoded as nothing")
	}
	x := make(Xattrs, min(count, 64))
	total, prev := 0, ""
	for i := 0; i < count && d.err == nil; i++ {
		name := string(d.bytes(d.length(MaxXattrName)))
		value := d.bytes(d.length(MaxXattrValue))
		total += len(name) + len(value)
		switch {
		case d.err != nil:
		case i > 0 && name <= prev:
			d.fail("names not sorted")
		case total > MaxXattrTotal:
			d.err = ErrXattrsTooLarge
		default:
			d.err = checkXattr(name, value)
		}
		x[name], prev = value, name
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode xattrs: %w", d.err)
	}
	return x, nil
}

// decoder reads canonical varints and byte strings, keeping the first
// error.
type decoder struct {
	b   []byte
	err error
}

// fail records a malformed-input error.
func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", why, errMalformed)
	}
}

// length reads a minimal unsigned varint no larger than limit.
func (d *decoder) length(limit int) int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n <= 0:
		d.fail("bad length")
		return 0
	case n != len(binary.AppendUvarint(nil, v)):
		d.fail("padded length")
		return 0
	case v > uint64(limit):
		d.err = fmt.Errorf("length %d over %d: %w", v, limit, ErrXattrsTooLarge)
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

// bytes reads n bytes, copied so the result does not alias the input.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	out := append([]byte{}, d.b[:n]...)
	d.b = d.b[n:]
	return out
}
