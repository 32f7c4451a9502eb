package source

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/jetsync/jetsync/pkg/sign"
)

// Names of the source's signing key files in its data directory: the
// private key (mode 0600) and the public key line replicas are given.
const (
	SigningKeyFile = "signing.key"
	PublicKeyFile  = "signing.pub"
)

// loadSigner reads the source's signing key from its data directory, or
// makes one there, and writes the public key beside it for replicas.
func loadSigner(dataDir string) (*sign.Signer, bool, error) {
	s, created, err := sign.LoadOrCreate(filepath.Join(dataDir, SigningKeyFile))
	if err != nil {
		return nil, false, err
	}
	pub := filepath.Join(dataDir, PublicKeyFile)
	if b, err := os.ReadFile(pub); err != nil || string(b) != s.PublicKey()+"\n" {
		if err := os.WriteFile(pub, []byte(s.PublicKey()+"\n"), 0o644); err != nil {
			return nil, false, fmt.Errorf("write public key: %w", err)
		}
	}
	return s, created, nil
}
