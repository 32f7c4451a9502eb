package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// TestEncryptedFolder runs the real binary with --encryption-key-file on
// a source and a replica, each its own process, through a standalone
// broker: the replica converges and verify with the key passes; verify
// without it fails saying the folder is encrypted, and a replica given
// another key applies nothing. Once the broker has stopped, none of the
// names or contents written is in its store files. `jetsync keygen`
// makes the key (0600) and refuses to overwrite one.
func TestEncryptedFolder(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	key, otherKey := filepath.Join(base, "vault.key"), filepath.Join(base, "other.key")
	for _, k := range []string{key, otherKey} {
		if res := harness.RunCLI(t, 30*time.Second, "keygen", k); res.Code != 0 {
			t.Fatalf("keygen: %s", res)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if res := harness.RunCLI(t, 30*time.Second, "keygen", key); res.Code == 0 {
		t.Fatalf("keygen overwrote a key: %s", res)
	}
	src := filepath.Join(base, "src")
	secrets := []string{"ZucchiniCellar", "OkraInvoice", "ParsnipPayload", "CeleriacTarget"}
	harness.Must(t, os.MkdirAll(filepath.Join(src, "ZucchiniCellar"), 0o755))
	harness.WriteFile(t, filepath.Join(src, "ZucchiniCellar", "OkraInvoice.txt"), strings.Repeat("ParsnipPayload line\n", 20000), 0o644)
	harness.Must(t, os.Symlink("CeleriacTarget", filepath.Join(src, "link")))

	addr := harness.FreeAddr(t)
	url := "nats://" + addr
	store := filepath.Join(base, "broker")
	broker := harness.StartBroker(t, store, addr)
	withKey := []string{"--encryption-key-file", key}
	harness.StartSource(t, "source", url, "vault", src, filepath.Join(base, "source"), withKey...)
	dst := filepath.Join(base, "dst")
	harness.StartReplica(t, "replica", url, "vault", dst, filepath.Join(base, "replica"), "r1", withKey...)
	harness.Eventually(t, time.Minute, func() (bool, string) {
		if ok, msg := harness.SameTree(t, src, dst); !ok {
			return false, msg
		}
		res := harness.Verify(t, url, "vault", dst, withKey...)
		return res.Code == 0, res.String()
	})

	res := harness.Verify(t, url, "vault", dst)
	if res.Code == 0 || !strings.Contains(res.Stderr, "is encrypted with key id") {
		t.Errorf("verify without the key: %s", res)
	}
	wrong := filepath.Join(base, "wrong")
	harness.Must(t, os.MkdirAll(wrong, 0o755))
	harness.WriteFile(t, filepath.Join(wrong, "mine.txt"), "kept\n", 0o644)
	rp := harness.StartReplica(t, "wrong-key", url, "vault", wrong, filepath.Join(base, "wrong-data"), "r2",
		"--encryption-key-file", otherKey)
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		log, _ := os.ReadFile(rp.LogPath())
		return bytes.Contains(log, []byte("--encryption-key-file gives key id")), "the replica with another key did not say why it applies nothing"
	})
	if entries, err := os.ReadDir(wrong); err != nil || len(entries) != 1 {
		t.Errorf("the replica with another key changed its tree: %v, %v", entries, err)
	}
	if st := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--folder", "vault", "--encryption-key-file", key); st.Code != 0 {
		t.Errorf("status with the key: %s", st)
	}

	harness.Must(t, broker.Stop())
	err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", p, s)
			}
		}
		return err
	})
	harness.Must(t, err)
}
