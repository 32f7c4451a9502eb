package sign

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func newKey(t *testing.T) (*Signer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys", "signing.key")
	s, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("create: %v, created %v", err, created)
	}
	return s, path
}

func TestKeyIsKeptAndPrivate(t *testing.T) {
	s, path := newKey(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	again, created, err := LoadOrCreate(path)
	if err != nil || created || again.PublicKey() != s.PublicKey() {
		t.Fatalf("reload: %v, created %v, same %v", err, created, again.PublicKey() == s.PublicKey())
	}
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Fatal("a garbage key file was accepted")
	}
}

func signedMsg(s *Signer, subject, data string) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: []byte(data)}
	s.Sign(m)
	return m
}

func TestVerify(t *testing.T) {
	s, _ := newKey(t)
	other, _ := newKey(t)
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "source.pub")
	if err := os.WriteFile(pubFile, []byte(s.PublicKey()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, trust := range []string{s.PublicKey(), s.Fingerprint(), pubFile} {
		v, err := ParseTrust(trust)
		if err != nil {
			t.Fatalf("%s: %v", trust, err)
		}
		if v.Fingerprint() != s.Fingerprint() {
			t.Errorf("%s: fingerprint %s", trust, v.Fingerprint())
		}
		m := signedMsg(s, "jetsync.f.s.a", "record")
		if err := v.Verify(m.Header, m.Subject, m.Data); err != nil {
			t.Errorf("%s: a good signature: %v", trust, err)
		}
		cases := map[string]func() (nats.Header, string, []byte){
			"body":    func() (nats.Header, string, []byte) { return m.Header, m.Subject, []byte("recorD") },
			"subject": func() (nats.Header, string, []byte) { return m.Header, "jetsync.f.s.b", m.Data },
			"other key": func() (nats.Header, string, []byte) {
				o := signedMsg(other, m.Subject, "record")
				return o.Header, o.Subject, o.Data
			},
			"other key, our key's header": func() (nats.Header, string, []byte) {
				o := signedMsg(other, m.Subject, "record")
				o.Header.Set(HeaderKey, m.Header.Get(HeaderKey))
				return o.Header, o.Subject, o.Data
			},
			"garbage signature": func() (nats.Header, string, []byte) {
				h := nats.Header{HeaderSig: []string{"!!"}, HeaderKey: m.Header[HeaderKey]}
				return h, m.Subject, m.Data
			},
		}
		for name, c := range cases {
			h, subj, data := c()
			if err := v.Verify(h, subj, data); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: %s: %v, want a bad signature", trust, name, err)
			}
		}
		if err := v.Verify(nats.Header{}, m.Subject, m.Data); !errors.Is(err, ErrUnsigned) {
			t.Errorf("%s: unsigned: %v", trust, err)
		}
	}
	for _, bad := range []string{"", "SHA256:short", "jetsync-ed25519 AAAA", filepath.Join(dir, "missing")} {
		if _, err := ParseTrust(bad); err == nil {
			t.Errorf("trusted %q", bad)
		}
	}
}

// FuzzVerify feeds the verifier arbitrary headers and bodies, as a hostile
// broker would: it must never panic nor accept what the key did not sign.
func FuzzVerify(f *testing.F) {
	s, _, err := LoadOrCreate(filepath.Join(f.TempDir(), "k"))
	if err != nil {
		f.Fatal(err)
	}
	good := signedMsg(s, "jetsync.f.s.a", "record")
	f.Add(good.Header.Get(HeaderSig), good.Header.Get(HeaderKey), "jetsync.f.s.a", []byte("record"))
	f.Add("", "", "x", []byte{})
	v, err := ParseTrust(s.Fingerprint())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, key, subject string, data []byte) {
		h := nats.Header{HeaderSig: []string{sig}, HeaderKey: []string{key}}
		if err := v.Verify(h, subject, data); err == nil {
			if subject != "jetsync.f.s.a" || string(data) != "record" {
				t.Fatalf("accepted a message the key did not sign: %q %q", subject, data)
			}
		}
	})
}

func FuzzParseTrust(f *testing.F) {
	f.Add("jetsync-ed25519 AAAA")
	f.Add("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "/\x00") || !strings.HasPrefix(s, "jetsync") && !strings.HasPrefix(s, "SHA256:") {
			return // a path: not for a fuzzer
		}
		v, err := ParseTrust(s)
		if err == nil && !strings.HasPrefix(v.Fingerprint(), "SHA256:") {
			t.Fatalf("trust %q gave fingerprint %q", s, v.Fingerprint())
		}
	})
}
