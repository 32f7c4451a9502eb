package main

import (
	"os"
	"path/filepath"

	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/source"
)

// parseSourceKey reads --source-key; "" trusts nothing (signatures are not
// checked).
func parseSourceKey(s string) (*sign.Verifier, error) {
	if s == "" {
		return nil, nil
	}
	v, err := sign.ParseTrust(s)
	if err != nil {
		return nil, usagef("--source-key: %v", err)
	}
	return v, nil
}

// trustLocalSource is the key `jetsync run`'s replica trusts: the one its
// source, in the same process and data directory, signs with (made now if
// the source has not yet).
func trustLocalSource(data string) (*sign.Verifier, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	s, _, err := sign.LoadOrCreate(filepath.Join(data, source.SigningKeyFile))
	if err != nil {
		return nil, err
	}
	return sign.ParseTrust(s.PublicKey())
}
