package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Kind says what a sealed message is; it is part of the additional data,
// so that one kind cannot pass for another.
type Kind byte

// Kinds of sealed messages.
const (
	KindRecord  Kind = 'r' // state record, by its state subject
	KindMeta    Kind = 'm' // folder meta
	KindChunk   Kind = 'c' // content cache chunk, by its cache subject
	KindRequest Kind = 'q' // content request
	KindReply   Kind = 'a' // content reply
	KindStatus  Kind = 's' // path-bearing fields of a status entry, by its key
)

// Envelope layout: magic, version, 24-byte nonce, ciphertext and tag.
// The magic byte never starts valid UTF-8, so no JSON message or
// plaintext chunk payload can pass for a sealed one.
const (
	magic     = 0xF5
	version   = 1
	headerLen = 2
	// Overhead is how many bytes sealing adds to a message.
	Overhead = headerLen + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	adPrefix = "jetsync-seal-v1\x00"
)

var (
	// ErrNotSealed marks a message that is not an envelope at all.
	ErrNotSealed = errors.New("message is not encrypted")
	// ErrVersion marks an envelope of a format this build does not know.
	ErrVersion = errors.New("unsupported encryption format")
	// ErrOpen marks an envelope that does not open: another key, altered
	// bytes, or a message moved from another subject.
	ErrOpen = errors.New("message does not decrypt with the folder's key (another key, altered, or moved)")
)

// Seal encrypts plain as a message of kind on subject.
func (f *FolderKeys) Seal(kind Kind, subject string, plain []byte) []byte {
	a := f.aead(kind)
	out := make([]byte, headerLen+a.NonceSize(), Overhead+len(plain))
	out[0], out[1] = magic, version
	nonce := out[headerLen:]
	if _, err := rand.Read(nonce); err != nil {
		panic("seal: read random nonce: " + err.Error()) // crypto/rand does not fail
	}
	return a.Seal(out, nonce, plain, ad(kind, subject))
}

// Open decrypts a message of kind sealed for subject.
func (f *FolderKeys) Open(kind Kind, subject string, sealed []byte) ([]byte, error) {
	if len(sealed) < headerLen || sealed[0] != magic {
		return nil, ErrNotSealed
	}
	if sealed[1] != version {
		return nil, fmt.Errorf("%w: version %d", ErrVersion, sealed[1])
	}
	a := f.aead(kind)
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes", ErrOpen, len(sealed))
	}
	nonce := sealed[headerLen : headerLen+a.NonceSize()]
	plain, err := a.Open(nil, nonce, sealed[headerLen+a.NonceSize():], ad(kind, subject))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// IsSealed says whether b looks like an envelope (it may still not open).
func IsSealed(b []byte) bool { return len(b) > 0 && b[0] == magic }

func (f *FolderKeys) aead(kind Kind) cipher.AEAD {
	switch kind {
	case KindChunk, KindRequest, KindReply:
		return f.content
	}
	return f.records
}

// ad is the additional data: the kind and the subject (which names the
// folder), so a message opens only where it was sealed for.
func ad(kind Kind, subject string) []byte {
	b := make([]byte, 0, len(adPrefix)+2+len(subject))
	b = append(b, adPrefix...)
	b = append(b, byte(kind), 0)
	return append(b, subject...)
}
