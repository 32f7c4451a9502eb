// Package sign signs and verifies what a source publishes: every state
// record and folder meta carries an Ed25519 signature, in a message
// header, over the message's subject and body. A replica that trusts the
// source's key applies only what verifies, so a broker (or anyone holding
// broker credentials) can delay or withhold changes but not make one up.
//
// Content needs no signature of its own: chunks and manifest blobs are
// named by their BLAKE3 hash in the signed records, and checked against it.
//
// Keys are kept as one line of text: "jetsync-ed25519-private <base64
// seed>" in the source's key file (mode 0600), "jetsync-ed25519 <base64
// public key>" for what replicas are given. A replica may instead pin the
// key's fingerprint, "SHA256:<base64>", as SSH does; the signed messages
// then carry the public key, which must match it.
package sign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
)

// Header names of a signed message.
const (
	HeaderSig = "Jetsync-Sig" // base64 Ed25519 signature
	HeaderKey = "Jetsync-Key" // base64 public key of the signer
)

const (
	privatePrefix = "jetsync-ed25519-private "
	publicPrefix  = "jetsync-ed25519 "
	fpPrefix      = "SHA256:"
	// context separates jetsync's signatures from any other use of the key.
	context = "jetsync-sig-v1\x00"
)

var (
	// ErrUnsigned marks a message without a signature, from a replica
	// that requires one.
	ErrUnsigned = errors.New("message is not signed")
	// ErrBadSignature marks a signature that does not verify, or one by
	// another key than the trusted one.
	ErrBadSignature = errors.New("signature does not verify with the trusted source key")
)

// Signer signs messages with a source's private key.
type Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	key  string // base64 of pub, as the header carries it
}

// LoadOrCreate reads the private key at path, or makes one there (mode
// 0600, its directory 0700) if there is none; created says which.
func LoadOrCreate(path string) (s *Signer, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return create(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read signing key: %w", err)
	}
	line := strings.TrimSpace(string(b))
	if !strings.HasPrefix(line, privatePrefix) {
		return nil, false, fmt.Errorf("signing key %s: not a jetsync private key", path)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, privatePrefix))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, false, fmt.Errorf("signing key %s: malformed", path)
	}
	return newSigner(ed25519.NewKeyFromSeed(seed)), false, nil
}

func create(path string) (*Signer, bool, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("make signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("make signing key: %w", err)
	}
	line := privatePrefix + base64.StdEncoding.EncodeToString(priv.Seed()) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("make signing key: %w", err)
	}
	_, err = f.WriteString(line)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("write signing key: %w", err)
	}
	return newSigner(priv), true, nil
}

func newSigner(priv ed25519.PrivateKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	return &Signer{priv: priv, pub: pub, key: base64.StdEncoding.EncodeToString(pub)}
}

// PublicKey is the line replicas are given ("jetsync-ed25519 ...").
func (s *Signer) PublicKey() string { return publicPrefix + s.key }

// Fingerprint is the key's "SHA256:..." fingerprint.
func (s *Signer) Fingerprint() string { return fingerprint(s.pub) }

// Sign adds the signature of subject and data to msg's headers.
func (s *Signer) Sign(msg *nats.Msg) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	sig := ed25519.Sign(s.priv, signed(msg.Subject, msg.Data))
	msg.Header.Set(HeaderSig, base64.StdEncoding.EncodeToString(sig))
	msg.Header.Set(HeaderKey, s.key)
}

// Verifier checks signatures against one trusted key, given whole or by
// its fingerprint.
type Verifier struct {
	pub ed25519.PublicKey // nil when only the fingerprint is known
	fp  string
}

// ParseTrust reads what a replica is told to trust: a public key line, a
// "SHA256:..." fingerprint, or the path of a file holding either.
func ParseTrust(s string) (*Verifier, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, publicPrefix) && !strings.HasPrefix(s, fpPrefix) {
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, fmt.Errorf("source key: %w (give the source's public key, its SHA256: fingerprint, or a file holding either)", err)
		}
		s = strings.TrimSpace(string(b))
	}
	switch {
	case strings.HasPrefix(s, publicPrefix):
		pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, publicPrefix))
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("source key: malformed public key")
		}
		return &Verifier{pub: pub, fp: fingerprint(pub)}, nil
	case strings.HasPrefix(s, fpPrefix):
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(s, fpPrefix))
		if err != nil || len(raw) != sha256.Size {
			return nil, errors.New("source key: malformed fingerprint")
		}
		return &Verifier{fp: s}, nil
	}
	return nil, errors.New("source key: neither a jetsync public key nor a SHA256: fingerprint")
}

// Fingerprint is the trusted key's fingerprint.
func (v *Verifier) Fingerprint() string { return v.fp }

// Verify checks that h carries a signature of subject and data by the
// trusted key.
func (v *Verifier) Verify(h nats.Header, subject string, data []byte) error {
	sigText := h.Get(HeaderSig)
	if sigText == "" {
		return ErrUnsigned
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	pub := v.pub
	if pub == nil {
		key, err := base64.StdEncoding.DecodeString(h.Get(HeaderKey))
		if err != nil || len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: no usable key in the message", ErrBadSignature)
		}
		if fingerprint(key) != v.fp {
			return fmt.Errorf("%w: signed by %s", ErrBadSignature, fingerprint(key))
		}
		pub = key
	} else if k := h.Get(HeaderKey); k != "" && k != base64.StdEncoding.EncodeToString(v.pub) {
		return fmt.Errorf("%w: signed by another key", ErrBadSignature)
	}
	if !ed25519.Verify(pub, signed(subject, data), sig) {
		return ErrBadSignature
	}
	return nil
}

func fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return fpPrefix + base64.RawStdEncoding.EncodeToString(sum[:])
}

// signed is what a signature covers: a context string, the subject (so a
// record cannot be moved to another path's subject) and the body.
func signed(subject string, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(context) + len(subject) + 1 + len(data))
	b.WriteString(context)
	b.WriteString(subject)
	b.WriteByte(0)
	b.Write(data)
	return b.Bytes()
}
