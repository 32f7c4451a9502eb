package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/wire"
)

func testKey(t testing.TB) *Key {
	t.Helper()
	k, err := Generate(filepath.Join(t.TempDir(), "key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealRoundTrip(t *testing.T) {
	f := testKey(t).For("photos")
	for _, kind := range []Kind{KindRecord, KindMeta, KindChunk, KindRequest, KindReply, KindStatus} {
		for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret name "), 1000)} {
			sealed := f.Seal(kind, "jetsync.photos.s.abc", plain)
			if len(sealed) != len(plain)+Overhead {
				t.Errorf("sealed %d bytes into %d, want overhead %d", len(plain), len(sealed), Overhead)
			}
			if len(plain) > 4 && bytes.Contains(sealed, plain[:5]) {
				t.Errorf("sealed message contains its plaintext")
			}
			got, err := f.Open(kind, "jetsync.photos.s.abc", sealed)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("kind %c: open: %q, %v", kind, got, err)
			}
		}
	}
}

// Nonces are random: sealing the same message twice gives other bytes.
func TestSealIsRandomized(t *testing.T) {
	f := testKey(t).For("photos")
	a, b := f.Seal(KindRecord, "s", []byte("same")), f.Seal(KindRecord, "s", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one message are equal")
	}
}

// Another key, another folder's keys, another subject, another kind and
// any altered byte all fail with ErrOpen, never with garbage.
func TestOpenRefuses(t *testing.T) {
	k := testKey(t)
	f := k.For("photos")
	sealed := f.Seal(KindRecord, "jetsync.photos.s.AAA", []byte(`{"path":"a"}`))
	cases := map[string]func() ([]byte, error){
		"another key": func() ([]byte, error) {
			return testKey(t).For("photos").Open(KindRecord, "jetsync.photos.s.AAA", sealed)
		},
		"another folder":  func() ([]byte, error) { return k.For("music").Open(KindRecord, "jetsync.photos.s.AAA", sealed) },
		"another subject": func() ([]byte, error) { return f.Open(KindRecord, "jetsync.photos.s.BBB", sealed) },
		"another kind":    func() ([]byte, error) { return f.Open(KindStatus, "jetsync.photos.s.AAA", sealed) },
		"truncated":       func() ([]byte, error) { return f.Open(KindRecord, "jetsync.photos.s.AAA", sealed[:len(sealed)-1]) },
	}
	for i := range sealed {
		if i < 2 {
			continue // the header: other errors, tested below
		}
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := f.Open(KindRecord, "jetsync.photos.s.AAA", bad); !errors.Is(err, ErrOpen) {
			t.Fatalf("byte %d altered: %v, want ErrOpen", i, err)
		}
	}
	for name, open := range cases {
		if got, err := open(); !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: %q, %v, want ErrOpen", name, got, err)
		}
	}
	if _, err := f.Open(KindRecord, "s", []byte(`{"v":4}`)); !errors.Is(err, ErrNotSealed) {
		t.Errorf("plain JSON: %v, want ErrNotSealed", err)
	}
	future := bytes.Clone(sealed)
	future[1] = 2
	if _, err := f.Open(KindRecord, "jetsync.photos.s.AAA", future); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: %v, want ErrVersion", err)
	}
}

// Subject tokens are deterministic per key and folder (a path keeps its
// subject; equal chunks share one), keyed (not the plain BLAKE3 token a
// broker could compute from a guessed name), and as long as the plain
// ones.
func TestTokens(t *testing.T) {
	k := testKey(t)
	f := k.For("photos")
	if f.PathKey("a/b") != k.For("photos").PathKey("a/b") {
		t.Error("path token not deterministic")
	}
	if len(f.PathKey("a/b")) != len(wire.PathKey("a/b")) || f.PathKey("a/b") == wire.PathKey("a/b") {
		t.Errorf("keyed token %s, plain %s", f.PathKey("a/b"), wire.PathKey("a/b"))
	}
	for _, other := range []string{k.For("music").PathKey("a/b"), testKey(t).For("photos").PathKey("a/b"), f.PathKey("a/c")} {
		if other == f.PathKey("a/b") {
			t.Error("path token shared with another key, folder or path")
		}
	}
	h := wire.Sum([]byte("chunk"))
	subj := f.ChunkSubject("photos", h)
	if subj != k.For("photos").ChunkSubject("photos", h) || strings.Contains(subj, h.String()) ||
		len(subj) != len(wire.ChunkSubject("photos", h)) || !strings.HasPrefix(subj, "jetsync.photos.c.") {
		t.Errorf("chunk subject %s, plain %s", subj, wire.ChunkSubject("photos", h))
	}
	var none *FolderKeys
	if none.StateSubject("photos", "a/b") != wire.StateSubject("photos", "a/b") || none.ChunkSubject("photos", h) != wire.ChunkSubject("photos", h) {
		t.Error("nil keys do not give the plain subjects")
	}
}

// The key id is stable, differs per folder and key, and is not any of the
// keys.
func TestKeyID(t *testing.T) {
	k := testKey(t)
	id := k.For("photos").ID()
	if len(id) != 16 || id != k.For("photos").ID() || id == k.For("music").ID() || id == testKey(t).For("photos").ID() {
		t.Errorf("key id %s", id)
	}
	var none *FolderKeys
	if none.ID() != "" {
		t.Error("nil keys have an id")
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	k, err := Generate(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	got, err := Load(path)
	if err != nil || got.b != k.b {
		t.Fatalf("load: %v", err)
	}
	if _, err := Generate(path); !errors.Is(err, os.ErrExist) {
		t.Errorf("generate over an existing key: %v", err)
	}
	// Whitespace around the hex is fine.
	text, _ := os.ReadFile(path)
	spaced := filepath.Join(dir, "spaced")
	if err := os.WriteFile(spaced, []byte("  "+strings.TrimSpace(string(text))+"\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(spaced); err != nil || got.b != k.b {
		t.Errorf("load with whitespace: %v", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	good := strings.Repeat("ab", KeySize)
	cases := []struct {
		name, text string
		mode       os.FileMode
		want       string
	}{
		{"group readable", good, 0o640, "chmod 600"},
		{"world readable", good, 0o604, "chmod 600"},
		{"short", good[:62], 0o600, "62 characters, want 64"},
		{"long", good + "ab", 0o600, "66 characters, want 64"},
		{"not hex", strings.Repeat("zz", KeySize), 0o600, "not hex"},
		{"empty", "", 0o600, "0 characters"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("a directory loaded as a key")
	}
}

// A record round-trips through its state subject; a plain record read
// with keys, or a sealed one without, is malformed.
func TestRecords(t *testing.T) {
	f := testKey(t).For("photos")
	rec := &wire.Record{Path: "secret/name.txt", Type: wire.Dir, Mode: 0o755}
	subj, data, err := f.EncodeRecord("photos", rec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("secret")) || subj != f.StateSubject("photos", rec.Path) {
		t.Fatalf("record %q on %s", data, subj)
	}
	got, err := f.DecodeRecord(subj, data)
	if err != nil || got.Path != rec.Path {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	var none *FolderKeys
	if _, err := none.DecodeRecord(subj, data); !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, ErrNotPlain) {
		t.Errorf("sealed record without keys: %v", err)
	}
	_, plain, _ := none.EncodeRecord("photos", rec)
	if _, err := f.DecodeRecord(subj, plain); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("plain record with keys: %v", err)
	}
	other := f.StateSubject("photos", "other")
	if _, err := f.DecodeRecord(other, data); !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, ErrOpen) {
		t.Errorf("record moved to another path's subject: %v", err)
	}
}

// The meta of an encrypted folder shows only its version and key id; a
// replica with another key, or none, or with a key on a plain folder, is
// told which key ids are in play.
func TestMeta(t *testing.T) {
	k := testKey(t)
	f := k.For("photos")
	m := wire.Meta{Epoch: 7, Source: "src-secret", Exclude: []string{"*.private"}}
	b := f.EncodeMeta("photos", m)
	if bytes.Contains(b, []byte("secret")) || bytes.Contains(b, []byte("private")) || !bytes.Contains(b, []byte(f.ID())) {
		t.Fatalf("meta %s", b)
	}
	got, err := f.DecodeMeta("photos", b)
	if err != nil || got.Epoch != 7 || got.Source != "src-secret" || len(got.Exclude) != 1 {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	other := testKey(t).For("photos")
	var none *FolderKeys
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"another key":    {errOf(other.DecodeMeta("photos", b)), "encrypted with key id " + f.ID() + "; --encryption-key-file gives key id " + other.ID()},
		"no key":         {errOf(none.DecodeMeta("photos", b)), "encrypted with key id " + f.ID() + "; give its key"},
		"key, plain one": {errOf(f.DecodeMeta("photos", none.EncodeMeta("photos", m))), "not encrypted, and --encryption-key-file gives key id " + f.ID()},
	} {
		if !errors.Is(c.err, ErrKeyMismatch) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, c.err, c.want)
		}
	}
	if _, err := k.For("music").DecodeMeta("music", b); err == nil {
		t.Error("meta of another folder accepted")
	}
}

func errOf(_ wire.Meta, err error) error { return err }
