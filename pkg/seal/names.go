package seal

import (
	"fmt"
	"strings"

	"github.com/jetsync/jetsync/pkg/wire"
)

// The methods in this file are what the source, the replica and verify
// call for every state record and chunk. On nil keys (a folder that is
// not encrypted) they are the plain wire functions, so that call sites do
// not branch.

// PathToken is the subject token of path: keyed with keys, wire.PathKey
// without.
func (f *FolderKeys) PathToken(path string) string {
	if f == nil {
		return wire.PathKey(path)
	}
	return f.PathKey(path)
}

// StateSubject is the subject of path's state record in folder.
func (f *FolderKeys) StateSubject(folder, path string) string {
	return wire.StatePrefix(folder) + f.PathToken(path)
}

// ChunkSubject is the subject of the chunk with hash h in folder's
// content cache.
func (f *FolderKeys) ChunkSubject(folder string, h wire.Hash) string {
	if f == nil {
		return wire.ChunkSubject(folder, h)
	}
	return strings.TrimSuffix(wire.CacheFilter(folder), ">") + f.ChunkToken(h)
}

// SealIf seals plain with keys, or returns it as it is without.
func (f *FolderKeys) SealIf(kind Kind, subject string, plain []byte) []byte {
	if f == nil {
		return plain
	}
	return f.Seal(kind, subject, plain)
}

// OpenIf opens data with keys, or returns it as it is without. Failures
// are malformed messages (wire.ErrMalformed), which callers already count
// and reject.
func (f *FolderKeys) OpenIf(kind Kind, subject string, data []byte) ([]byte, error) {
	if f == nil {
		if IsSealed(data) {
			return nil, fmt.Errorf("%w: %w (no encryption key given)", wire.ErrMalformed, ErrNotPlain)
		}
		return data, nil
	}
	plain, err := f.Open(kind, subject, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", wire.ErrMalformed, err)
	}
	return plain, nil
}

// DecodeRecord opens and decodes the state record data found on subject.
func (f *FolderKeys) DecodeRecord(subject string, data []byte) (*wire.Record, error) {
	plain, err := f.OpenIf(KindRecord, subject, data)
	if err != nil {
		return nil, err
	}
	return wire.DecodeRecord(plain)
}

// EncodeRecord encodes rec and seals it for its state subject in folder,
// which it returns too.
func (f *FolderKeys) EncodeRecord(folder string, rec *wire.Record) (subject string, data []byte, err error) {
	plain, err := wire.EncodeRecord(rec)
	if err != nil {
		return "", nil, err
	}
	subject = f.StateSubject(folder, rec.Path)
	return subject, f.SealIf(KindRecord, subject, plain), nil
}
