package encryption

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/jetsync/jetsync/pkg/chunk"
	"github.com/jetsync/jetsync/pkg/fsmeta"
	"github.com/jetsync/jetsync/pkg/jstest"
	"github.com/jetsync/jetsync/pkg/seal"
	"github.com/jetsync/jetsync/pkg/sign"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/verify"
	"github.com/jetsync/jetsync/pkg/wire"
)

// plaintext is what the source's tree is made of: every string of it
// must stay out of the broker's store and off the wire.
type plaintext struct {
	files   map[string][]byte // path: content
	dirs    []string
	links   map[string]string // path: target
	secrets []string          // substrings of the above, and tokens derived from them
	xattr   bool              // the small file has an extended attribute
}

// secretTree writes into root directories, small files (carried in their
// records), a symlink, and with big, files of several chunks (fetched as
// content), named and filled with marker strings.
func secretTree(t *testing.T, root string, big bool) *plaintext {
	p := &plaintext{
		dirs: []string{"KumquatOrchard", "KumquatOrchard/PomeloGrove"},
		files: map[string][]byte{"KumquatOrchard/PersimmonLedger.txt": []byte("QuinceSecretContent of a small file\n"),
			"KumquatOrchard/PomeloGrove/LycheeNotes.md": []byte("FeijoaHiddenLine\n")},
		links:   map[string]string{"RambutanLink": "TamarilloTarget/elsewhere"},
		secrets: []string{"Kumquat", "Pomelo", "Persimmon", "Quince", "Lychee", "Feijoa", "Rambutan", "Tamarillo"},
	}
	if big {
		var b bytes.Buffer
		for i := 0; b.Len() < 600<<10; i++ {
			fmt.Fprintf(&b, "MangosteenPayload %d of a file fetched as chunks\n", i)
		}
		p.files["DurianArchive.bin"] = b.Bytes()
		p.secrets = append(p.secrets, "Durian", "Mangosteen")
	}
	for _, d := range p.dirs {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	for f, data := range p.files {
		must(t, os.WriteFile(filepath.Join(root, f), data, 0o640))
		p.addHashes(t, f, data)
	}
	// An extended attribute, where the filesystem has them: its name and
	// value travel in the record, base64 in its JSON.
	if unix.Setxattr(filepath.Join(root, "KumquatOrchard/PersimmonLedger.txt"), "user.CardoonLabel", []byte("SalsifyXattrValue"), 0) == nil {
		blob, err := fsmeta.EncodeXattrs(fsmeta.Xattrs{"user.CardoonLabel": []byte("SalsifyXattrValue")})
		must(t, err)
		p.secrets = append(p.secrets, base64.StdEncoding.EncodeToString(blob))
		p.xattr = true
	}
	for l, target := range p.links {
		must(t, os.Symlink(target, filepath.Join(root, l)))
		p.secrets = append(p.secrets, wire.PathKey(l))
	}
	for _, d := range p.dirs {
		p.secrets = append(p.secrets, wire.PathKey(d))
	}
	return p
}

// addLive writes a file of several chunks into the running source's
// tree.
func (p *plaintext) addLive(t *testing.T, root string) {
	var b bytes.Buffer
	for i := 0; b.Len() < 400<<10; i++ {
		fmt.Fprintf(&b, "GuavaLiveBytes %d written while the source runs\n", i)
	}
	name := "KumquatOrchard/GuavaLive.bin"
	must(t, os.WriteFile(filepath.Join(root, name), b.Bytes(), 0o600))
	p.files[name] = b.Bytes()
	p.secrets = append(p.secrets, "Guava")
	p.addHashes(t, name, b.Bytes())
}

// addHashes adds to the secrets what a broker could match a known file
// by: its unkeyed path token, its hash and its chunks' hashes.
func (p *plaintext) addHashes(t *testing.T, path string, data []byte) {
	p.secrets = append(p.secrets, wire.PathKey(path), wire.Sum(data).String())
	sp, err := chunk.NewSplitter()
	must(t, err)
	_, _, err = sp.Split(bytes.NewReader(data), func(h wire.Hash, _ []byte) error {
		p.secrets = append(p.secrets, h.String())
		return nil
	})
	must(t, err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// leaks returns the secrets found in b.
func (p *plaintext) leaks(b []byte) []string {
	var found []string
	for _, s := range p.secrets {
		if bytes.Contains(b, []byte(s)) {
			found = append(found, s)
		}
	}
	return found
}

// sameTree says how dst differs from what p wrote ("" if it does not).
func (p *plaintext) sameTree(dst string) string {
	for f, data := range p.files {
		got, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil || !bytes.Equal(got, data) {
			return fmt.Sprintf("%s: %d bytes, %v", f, len(got), err)
		}
	}
	for l, target := range p.links {
		if got, err := os.Readlink(filepath.Join(dst, l)); got != target {
			return fmt.Sprintf("%s -> %q, %v", l, got, err)
		}
	}
	for _, d := range p.dirs {
		if fi, err := os.Stat(filepath.Join(dst, d)); err != nil || !fi.IsDir() {
			return fmt.Sprintf("%s: not a directory (%v)", d, err)
		}
	}
	if p.xattr {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(filepath.Join(dst, "KumquatOrchard/PersimmonLedger.txt"), "user.CardoonLabel", buf)
		if err != nil || string(buf[:max(n, 0)]) != "SalsifyXattrValue" {
			return fmt.Sprintf("extended attribute: %q, %v", buf[:max(n, 0)], err)
		}
	}
	return ""
}

func (p *plaintext) waitSame(t *testing.T, dst string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		diff := p.sameTree(dst)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica did not converge: %s", diff)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newKey(t *testing.T) *seal.Key {
	k, err := seal.Generate(filepath.Join(t.TempDir(), "key"))
	must(t, err)
	return k
}

func (r *rig) verify(dst string, key *seal.Key) (*verify.Report, error) {
	_, js := r.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return verify.Verify(ctx, js, verify.Options{Folder: folder, Root: dst, Logger: logger(r.t), Encryption: key})
}

// waitVerified waits until verify with key finds dst equal to the
// folder (directory times are set once the replica settles).
func (r *rig) waitVerified(dst string, key *seal.Key) {
	r.t.Helper()
	var rep *verify.Report
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if rep, err = r.verify(dst, key); err == nil && rep.Equal {
			return
		}
	}
	r.t.Fatalf("verify with the key: %+v, %v", rep, err)
}

// replicate runs a source on a secret tree and a replica until the
// replica equals it and verify with the key says so; then everything
// stops, the broker too, so that its store files are complete.
func replicate(t *testing.T, key *seal.Key, big bool) (*rig, *plaintext) {
	r := newRig(t)
	src, dst := t.TempDir(), t.TempDir()
	p := secretTree(t, src, big)
	s, _ := r.source(src, key)
	rep, _ := r.replica(dst, key)
	p.waitSame(t, dst)
	if big {
		// A live change: its chunks go to the content cache.
		p.addLive(t, src)
		p.waitSame(t, dst)
	}
	r.waitVerified(dst, key)
	if big && r.cached() == 0 {
		t.Error("the live change put nothing into the content cache")
	}
	rep.stop(t)
	s.stop(t)
	r.b.Shutdown()
	return r, p
}

// The control: without encryption the same scans find the names and
// contents in the store and on the wire, so they see what they must.
func TestPlainFolderLeaks(t *testing.T) {
	r, p := replicate(t, nil, true)
	var inStore []string
	for _, b := range r.storeFiles() {
		inStore = append(inStore, p.leaks(b)...)
	}
	if !containsAll(inStore, "Kumquat", "Quince", "Tamarillo", "Guava") {
		t.Errorf("the store of a plain folder shows %v", inStore)
	}
	if len(p.leaks(r.captured())) != len(p.secrets) {
		t.Errorf("the wire of a plain folder shows %v", p.leaks(r.captured()))
	}
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// With a key, no name, target, content, content hash or unkeyed path
// token is in any of the broker's store files (state stream, content
// cache, status bucket), nor in anything that crossed the wire (records,
// chunks of the content cache, content requests and replies, status),
// while the replica converges and verify passes.
func TestEncryptedNothingInStoreOrOnWire(t *testing.T) {
	r, p := replicate(t, newKey(t), true)
	files := r.storeFiles()
	if len(files) == 0 {
		t.Fatal("no store files")
	}
	for path, b := range files {
		if found := p.leaks(b); len(found) > 0 {
			t.Errorf("%s holds %v", strings.TrimPrefix(path, r.store), found)
		}
	}
	w := r.captured()
	if len(w) < 1<<20 {
		t.Errorf("only %d bytes crossed the proxy: the content did not", len(w))
	}
	if found := p.leaks(w); len(found) > 0 {
		t.Errorf("the wire shows %v", found)
	}
}

// A replica given another key, or none, applies nothing, deletes nothing
// of what its tree holds, and says why; verify fails the same way.
func TestWrongKeyReplicaRefuses(t *testing.T) {
	r := newRig(t)
	key := newKey(t)
	src, good := t.TempDir(), t.TempDir()
	p := secretTree(t, src, false)
	r.source(src, key)
	rep, _ := r.replica(good, key)
	p.waitSame(t, good)
	rep.stop(t)
	for name, k := range map[string]*seal.Key{"another key": newKey(t), "no key": nil} {
		dst := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dst, "mine.txt"), []byte("kept"), 0o644))
		d, rp := r.replica(dst, k)
		jstest.Eventually(t, 20*time.Second, func() bool {
			return d.errorsOf(t, "jetsync_replica_errors_total", "encryption_key") > 0
		}, "%s: the replica did not count the key mismatch", name)
		want := "encrypted with key id " + key.For(folder).ID()
		if pr := rp.Progress(); !strings.Contains(pr.LastError, want) {
			t.Errorf("%s: last error %q, want it to say %q", name, pr.LastError, want)
		}
		d.stop(t)
		entries, err := os.ReadDir(dst)
		if err != nil || len(entries) != 1 || entries[0].Name() != "mine.txt" {
			t.Errorf("%s: replica tree holds %v (%v)", name, entries, err)
		}
		if _, err := r.verify(good, k); !errors.Is(err, seal.ErrKeyMismatch) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: verify: %v", name, err)
		}
	}
}

// A source never publishes into a folder encrypted otherwise than it
// would: with a key on a plain folder, without one on an encrypted
// folder, with another key, even when the folder meta that would say so
// was replaced by garbage. It stops at start, saying what to do.
func TestSourceRefusesOtherEncryption(t *testing.T) {
	key := newKey(t)
	for name, c := range map[string]struct {
		first, then *seal.Key
		garbageMeta bool
	}{
		"key on a plain folder":      {first: nil, then: key},
		"no key on an encrypted one": {first: key, then: nil},
		"another key":                {first: key, then: newKey(t)},
		"another key, garbage meta":  {first: key, then: newKey(t), garbageMeta: true},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			r := newRig(t)
			src := t.TempDir()
			p := secretTree(t, src, false)
			first, _ := r.source(src, c.first)
			dst := t.TempDir()
			rep, _ := r.replica(dst, c.first)
			p.waitSame(t, dst)
			rep.stop(t)
			first.stop(t)
			if c.garbageMeta {
				nc, _ := r.connect()
				must(t, nc.Publish(wire.MetaSubject(folder), []byte("not a meta")))
				must(t, nc.Flush())
			}
			before := r.streamLastSeq()
			second, _ := r.source(src, c.then)
			if err := second.wait(t); !errors.Is(err, source.ErrEncryptionMismatch) || !strings.Contains(err.Error(), "new folder name") {
				t.Errorf("source stopped with %v", err)
			}
			if got := second.errorsOf(t, "jetsync_source_errors_total", "encryption_key"); got != 1 {
				t.Errorf("encryption_key errors: %v", got)
			}
			if after := r.streamLastSeq(); after != before {
				t.Errorf("the refused source published: last sequence %d, was %d", after, before)
			}
		})
	}
}

// In an encrypted folder, without --source-key, a sealed record the
// broker publishes again after a newer one of its path is refused as a
// replay: the broker cannot roll a file back. Each replay comes as soon
// as the replica wrote the newer version, before it may have committed
// it (several times, since that window is narrow).
func TestReplayedSealedRecordRefused(t *testing.T) {
	r := newRig(t)
	key := newKey(t)
	src, dst := t.TempDir(), t.TempDir()
	p := secretTree(t, src, false)
	r.source(src, key)
	rep, rp := r.replica(dst, key)
	p.waitSame(t, dst)
	name := "KumquatOrchard/PersimmonLedger.txt"
	nc, js := r.connect()
	st, err := js.Stream(context.Background(), wire.StreamName(folder))
	must(t, err)
	subject := key.For(folder).StateSubject(folder, name)
	for i := range 6 {
		old, err := st.GetLastMsgForSubject(context.Background(), subject)
		must(t, err)
		p.files[name] = fmt.Appendf(nil, "QuinceSecretContent, version %d\n", i+2)
		must(t, os.WriteFile(filepath.Join(src, name), p.files[name], 0o640))
		p.waitSame(t, dst)
		replay := nats.NewMsg(old.Subject) // with the signature, as the source published it
		replay.Data = old.Data
		for _, h := range []string{sign.HeaderSig, sign.HeaderKey} {
			replay.Header.Set(h, old.Header.Get(h))
		}
		must(t, nc.PublishMsg(replay))
		must(t, nc.Flush())
		jstest.Eventually(t, 20*time.Second, func() bool {
			return rep.errorsOf(t, "jetsync_replica_errors_total", "replayed") > float64(i)
		}, "replay %d was not refused: %+v", i, rp.Progress())
		jstest.Eventually(t, 20*time.Second, func() bool { return rp.Progress().Settled }, "the replica did not settle")
		if diff := p.sameTree(dst); diff != "" {
			t.Fatalf("after replay %d: %s", i, diff)
		}
	}
}
