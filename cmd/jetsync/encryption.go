package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/jetsync/jetsync/pkg/seal"
)

// encryptionFlag is --encryption-key-file, the same on every command.
type encryptionFlag struct{ path string }

func (e *encryptionFlag) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&e.path, "encryption-key-file", "", what+
		" (the key file made by `jetsync keygen FILE`, the same on the source, its replicas and verify; see docs/SECURITY.md)")
}

// key loads the key file; nil without the flag.
func (e *encryptionFlag) key() (*seal.Key, error) {
	if e.path == "" {
		return nil, nil
	}
	k, err := seal.Load(e.path)
	if err != nil {
		return nil, usagef("--encryption-key-file: %v", err)
	}
	return k, nil
}

// cmdKeygen writes a new encryption key to a file that must not exist.
func cmdKeygen(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want the FILE to write the key to, got %d arguments", len(pos))
	}
	if _, err := seal.Generate(pos[0]); err != nil {
		return err
	}
	fmt.Printf("wrote a new encryption key to %s (mode 0600); copy it to the replicas, and keep a copy: without it nothing published with it can be read\n", pos[0])
	return nil
}
