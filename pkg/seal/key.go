package seal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// KeySize is the length of a key in bytes; its file holds twice as many
// hex characters.
const KeySize = 32

// Key is the secret shared by a source and its replicas.
type Key struct {
	b [KeySize]byte
}

// Load reads a key file: 64 hex characters (surrounding whitespace
// ignored), readable by its owner only.
func Load(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	if err := checkPrivate(path, fi.Mode()); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	return parse(path, strings.TrimSpace(string(b)))
}

// checkPrivate refuses a key file others may read, as ssh does with
// private keys: a key anyone on the host can read protects nothing.
func checkPrivate(path string, mode os.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if !mode.IsRegular() {
		return fmt.Errorf("encryption key %s: not a regular file", path)
	}
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("encryption key %s: mode %04o lets others read it; run chmod 600 %s", path, mode.Perm(), path)
	}
	return nil
}

func parse(path, text string) (*Key, error) {
	if len(text) != 2*KeySize {
		return nil, fmt.Errorf("encryption key %s: %d characters, want %d hex characters (make one with jetsync keygen)", path, len(text), 2*KeySize)
	}
	var k Key
	if _, err := hex.Decode(k.b[:], []byte(text)); err != nil {
		return nil, fmt.Errorf("encryption key %s: not hex: %w", path, err)
	}
	return &k, nil
}

// Generate writes a new random key to path, which must not exist yet
// (mode 0600), and returns it.
func Generate(path string) (*Key, error) {
	var k Key
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, fmt.Errorf("make encryption key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("make encryption key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(k.b[:]) + "\n")
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("write encryption key: %w", err), os.Remove(path))
	}
	return &k, nil
}
