package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// infoPrefix separates jetsync's derived keys from any other use of the
// secret; the version lets a later format derive other keys.
const infoPrefix = "jetsync-e2e-v1 "

// FolderKeys are the keys of one folder, derived from a Key. A nil
// *FolderKeys means the folder is not encrypted: its methods then name and
// pass messages as they are.
type FolderKeys struct {
	folder  string
	records cipher.AEAD // state records, folder meta, status
	content cipher.AEAD // chunks, content requests and replies
	subject []byte      // keyed BLAKE3 of path keys and chunk tokens
	id      string
}

// For derives the keys of folder; nil for a nil Key.
func (k *Key) For(folder string) *FolderKeys {
	if k == nil {
		return nil // not encrypted
	}
	fk := derive(k.b[:], "folder\x00"+folder)
	return &FolderKeys{
		folder:  folder,
		records: newAEAD(derive(fk, "records")),
		content: newAEAD(derive(fk, "content")),
		subject: derive(fk, "subjects"),
		id:      hex.EncodeToString(derive(fk, "key id")[:8]),
	}
}

func derive(secret []byte, info string) []byte {
	b, err := hkdf.Key(sha256.New, secret, nil, infoPrefix+info, KeySize)
	if err != nil {
		panic("seal: derive key: " + err.Error()) // only for lengths HKDF cannot give
	}
	return b
}

func newAEAD(key []byte) cipher.AEAD {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic("seal: " + err.Error()) // only for a key of the wrong length
	}
	return a
}

// Folder is the folder the keys belong to.
func (f *FolderKeys) Folder() string { return f.folder }

// ID is the key id: a fingerprint of the folder's key, published in the
// folder meta so that a replica given another key refuses clearly. It is
// an HKDF output of its own, so it says nothing about the other keys.
func (f *FolderKeys) ID() string {
	if f == nil {
		return ""
	}
	return f.id
}

// PathKey is the subject token of a path: the keyed BLAKE3 of the path,
// base64url, 22 characters (128 bits) as the unkeyed one, so a broker
// cannot confirm a guessed name.
func (f *FolderKeys) PathKey(path string) string {
	return f.token('p', []byte(path))
}

// ChunkToken is the subject token of a chunk in the content cache: the
// keyed BLAKE3 of its plaintext hash, so equal chunks share one cache
// entry without revealing the hash.
func (f *FolderKeys) ChunkToken(h [32]byte) string {
	return f.token('c', h[:])
}

func (f *FolderKeys) token(kind byte, b []byte) string {
	h, _ := blake3.NewKeyed(f.subject) // the key has the one length NewKeyed takes
	h.Write([]byte{kind})
	h.Write(b)
	var sum [32]byte
	h.Sum(sum[:0])
	if kind == 'c' {
		return base64.RawURLEncoding.EncodeToString(sum[:]) // as long as a plain chunk subject
	}
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
