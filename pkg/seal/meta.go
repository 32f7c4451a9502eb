package seal

import (
	"errors"
	"fmt"

	"github.com/jetsync/jetsync/pkg/wire"
)

var (
	// ErrKeyMismatch marks a folder encrypted with another key than the
	// one given, or encrypted while none was given, or the other way
	// round: nothing of it may be applied or published.
	ErrKeyMismatch = errors.New("encryption key does not match the folder")
	// ErrNotPlain marks an encrypted message read without a key.
	ErrNotPlain = errors.New("message is encrypted")
)

// EncodeMeta returns the wire form of folder's meta m: as it is without
// keys, sealed in a version 4 meta that shows only the key id with them.
func (f *FolderKeys) EncodeMeta(folder string, m wire.Meta) []byte {
	plain := wire.EncodeMeta(m)
	if f == nil {
		return plain
	}
	sealed := f.Seal(KindMeta, wire.MetaSubject(folder), plain)
	return wire.EncodeMeta(wire.Meta{KeyID: f.id, Sealed: sealed})
}

// DecodeMeta decodes folder's meta and opens it. A folder encrypted with
// another key than f (or with one, while f is nil, or not at all while f
// is not) is ErrKeyMismatch, saying both key ids.
func (f *FolderKeys) DecodeMeta(folder string, b []byte) (wire.Meta, error) {
	m, err := wire.DecodeMeta(b)
	if err != nil {
		return m, err
	}
	if err := f.CheckKeyID(folder, m.KeyID); err != nil {
		return wire.Meta{}, err
	}
	if f == nil {
		return m, nil
	}
	plain, err := f.Open(KindMeta, wire.MetaSubject(folder), m.Sealed)
	if err != nil {
		return wire.Meta{}, fmt.Errorf("%w: meta: %w", wire.ErrMalformed, err)
	}
	inner, err := wire.DecodeMeta(plain)
	if err != nil {
		return inner, err
	}
	if inner.KeyID != "" || inner.Sealed != nil {
		return wire.Meta{}, fmt.Errorf("%w: meta sealed twice", wire.ErrMalformed)
	}
	return inner, nil
}

// CheckKeyID compares the key id a folder's meta shows (empty: not
// encrypted) with f's.
func (f *FolderKeys) CheckKeyID(folder, id string) error {
	switch {
	case id == f.ID():
		return nil
	case f == nil:
		return fmt.Errorf("%w: folder %s is encrypted with key id %s; give its key with --encryption-key-file", ErrKeyMismatch, folder, id)
	case id == "":
		return fmt.Errorf("%w: folder %s is not encrypted, and --encryption-key-file gives key id %s", ErrKeyMismatch, folder, f.id)
	}
	return fmt.Errorf("%w: folder %s is encrypted with key id %s; --encryption-key-file gives key id %s", ErrKeyMismatch, folder, id, f.id)
}
