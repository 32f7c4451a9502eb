package wire

import (
	"encoding/base64"
	"fmt"

	"github.com/zeebo/blake3"
)

// Hash is a BLAKE3-256 digest of content.
type Hash [32]byte

// Sum hashes b.
func Sum(b []byte) Hash { return Hash(blake3.Sum256(b)) }

// IsZero reports whether h is unset.
func (h Hash) IsZero() bool { return h == Hash{} }

// String is the unpadded base64url form used in subjects and JSON.
func (h Hash) String() string { return base64.RawURLEncoding.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	if base64.RawURLEncoding.DecodedLen(len(b)) != len(h) {
		return fmt.Errorf("%w: hash of %d characters", ErrMalformed, len(b))
	}
	_, err := base64.RawURLEncoding.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("%w: hash: %v", ErrMalformed, err)
	}
	return nil
}

// ParseHash parses the String form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}
