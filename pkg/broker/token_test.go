package broker

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestEnsureToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tok, path, created, err := EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created || path != filepath.Join(dir, TokenFileName) {
		t.Fatalf("created=%v path=%q", created, path)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 base64url bytes: %v", tok, err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
		}
	}

	tok2, path2, created2, err := EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created2 || tok2 != tok || path2 != path {
		t.Errorf("second call: created=%v same token=%v path=%q", created2, tok2 == tok, path2)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("leftover files in data dir: %v", entries)
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tok")
	if err := os.WriteFile(path, []byte("  abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := ReadTokenFile(path); err != nil || tok != "abc" {
		t.Errorf("ReadTokenFile = %q, %v", tok, err)
	}
	if err := os.WriteFile(path, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(path); err == nil {
		t.Error("empty token accepted")
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	// An empty existing file must not be silently replaced: clients may
	// already be configured from it.
	if _, _, _, err := EnsureToken(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TokenFileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := EnsureToken(dir); err == nil {
		t.Error("EnsureToken replaced an empty token file")
	}
}
