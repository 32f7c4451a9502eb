package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/wire"
)

// writeConfig writes a config file; "@DIR" in text becomes dir.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "jetsync.toml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "@DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigSourceEveryKey(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
# the daemon
log-level = "debug"
log-format = "json"
http = "127.0.0.1:9464"
metrics = "127.0.0.1:9465"
memory-limit = "512MiB"
data = "@DIR/state"
scan-interval = "1h"         # every folder's, unless its own
exclude = ["*.tmp"]

[broker]
listen = "127.0.0.1:4222"
insecure = false
sync-always = true
server-name = "primary"
cluster = "c1"
cluster-listen = "127.0.0.1:6222"
routes = "nats-route://b:6222,nats-route://c:6222"
tls-cert = "@DIR/cert.pem"
tls-key = "@DIR/key.pem"
tls-ca = "@DIR/ca.pem"
tls-verify = true

[[folder]]
folder = "photos"
path = "@DIR/photos"

[[folder]]
folder = "docs"
path = "@DIR/docs"
data = "@DIR/docs-state"
scan-interval = "10m"
max-watches = 5000
workers = 2
stream-replicas = 3
allow-empty-root = true
tombstone-ttl = "720h"
gc-interval = "1h"
content-cache = "256MiB"
max-staleness = "30s"
exclude = ["cache/", "!keep"]
exclude-from = "@DIR/excludes"
compress = "zstd"
`)
	if err := os.WriteFile(filepath.Join(dir, "excludes"), []byte("*.bak\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, plan, err := loadSource([]string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.lf.level != "debug" || c.lf.format != "json" || c.hf.http != "127.0.0.1:9464" || c.hf.metrics != "127.0.0.1:9465" ||
		c.mf.value != "512MiB" || c.sf.data != dir+"/state" {
		t.Errorf("daemon settings: log %+v http %+v memory %q data %q", c.lf, c.hf, c.mf.value, c.sf.data)
	}
	b := c.bf
	if b.listen != "127.0.0.1:4222" || b.insecure || !b.syncAlways || b.serverName != "primary" || b.clusterName != "c1" ||
		b.clusterAddr != "127.0.0.1:6222" || b.routes != "nats-route://b:6222,nats-route://c:6222" || !b.tlsVerify ||
		b.tls.cert != dir+"/cert.pem" || b.tls.key != dir+"/key.pem" || b.tls.ca != dir+"/ca.pem" {
		t.Errorf("broker settings: %+v tls %+v", b, *b.tls)
	}
	if got := plan.names(); !slices.Equal(got, []string{"photos", "docs"}) {
		t.Fatalf("folders %q", got)
	}
	file, _ := readConfig(path)
	_, photos, err := c.folder(file, sourceSchema(), file.folders[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if photos.DataDir != dir+"/state/photos" || photos.Root != dir+"/photos" || photos.ScanInterval != time.Hour ||
		!slices.Equal(photos.Exclude, []string{"*.tmp"}) || photos.Compression != wire.FastCompression {
		t.Errorf("photos, from the defaults: %+v", photos)
	}
	_, docs, err := c.folder(file, sourceSchema(), file.folders[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	if docs.DataDir != dir+"/docs-state" || docs.ScanInterval != 10*time.Minute || docs.MaxWatches != 5000 || docs.Workers != 2 ||
		docs.StreamOptions.Replicas != 3 || !docs.AllowEmptyRoot || docs.TombstoneTTL != 720*time.Hour ||
		docs.ContentCache != 256<<20 || docs.MaxStaleness != 30*time.Second || docs.Compression != wire.SmallCompression ||
		!slices.Equal(docs.Exclude, []string{"*.tmp", "cache/", "!keep", "*.bak"}) {
		t.Errorf("docs, its own: %+v", docs)
	}
}

func TestConfigReplicaEveryKey(t *testing.T) {
	dir := t.TempDir()
	st := access.Store{Dir: filepath.Join(dir, "auth")}
	photosKey, _, err := st.Ensure(access.ReplicaOf("photos", "nas2"))
	if err != nil {
		t.Fatal(err)
	}
	docsKey, _, err := st.Ensure(access.ReplicaOf("docs", "nas2"))
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, dir, `
log-level = "warn"
log-format = "text"
http = "127.0.0.1:9465"
memory-limit = "off"
data = "@DIR/state"
nats = "nats://primary:4222"
tls-ca = "@DIR/ca.pem"
tls-cert = "@DIR/cert.pem"
tls-key = "@DIR/key.pem"
owners = "off"

[[folder]]
folder = "photos"
path = "@DIR/photos"
nkey = "`+photosKey+`"

[[folder]]
folder = "docs"
path = "@DIR/docs"
data = "@DIR/docs-state"
nkey = "`+docsKey+`"
id = "nas2"
workers = 3
verify-every = "24h"
verify-max-rate = "50MiB"
repair = true
owners = "on"
source-key = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
`)
	c, plan, err := loadReplica([]string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.lf.level != "warn" || c.hf.http != "127.0.0.1:9465" || c.mf.value != "off" || c.cf.url != "nats://primary:4222" ||
		c.cf.tls != (tlsFlags{ca: dir + "/ca.pem", cert: dir + "/cert.pem", key: dir + "/key.pem"}) {
		t.Errorf("daemon settings: %+v %+v %+v", c.lf, c.hf, c.cf)
	}
	if got := plan.names(); !slices.Equal(got, []string{"photos", "docs"}) {
		t.Fatalf("folders %q", got)
	}
	file, _ := readConfig(path)
	pf, photos, err := c.folder(file, replicaSchema(), file.folders[0])
	if err != nil {
		t.Fatal(err)
	}
	if photos.ID != "nas2" || photos.DataDir != dir+"/state/photos" || !photos.KeepOwners || pf.cf.nkey != photosKey ||
		pf.cf.url != "nats://primary:4222" {
		t.Errorf("photos: %+v, nkey %q", photos, pf.cf.nkey)
	}
	df, docs, err := c.folder(file, replicaSchema(), file.folders[1])
	if err != nil {
		t.Fatal(err)
	}
	if docs.DataDir != dir+"/docs-state" || docs.Workers != 3 || docs.VerifyEvery != 24*time.Hour || docs.VerifyMaxRate != 50<<20 ||
		!docs.Repair || docs.KeepOwners || docs.SourceKey == nil || df.cf.nkey != docsKey {
		t.Errorf("docs: %+v", docs)
	}
}

// TestConfigErrorsNameTheLine: every mistake is a usage error (exit
// status 2, see exitCode) naming the file and line, and the folder where it has one.
func TestConfigErrorsNameTheLine(t *testing.T) {
	const head = "data = \"/var/db/jetsync\"\n[broker]\nlisten = \"127.0.0.1:4222\"\n" // lines 1-3
	folder := "[[folder]]\nfolder = \"photos\"\npath = \"/tmp\"\n"                     // lines 4-6
	for _, tc := range []struct{ name, text, want string }{
		{"unknown folder key", head + folder + "scan-intervall = \"10m\"\n", `:7: unknown key "scan-intervall" in [[folder]]`},
		{"unknown top key", "colour = \"blue\"\n" + head, `:1: unknown key "colour"`},
		{"unknown broker key", head + "lissen = \"x\"\n", `:4: unknown key "lissen" in [broker]`},
		{"broker key at the top", "listen = \"x\"\n", `:1: "listen" belongs in [broker]`},
		{"folder key at the top", "path = \"/x\"\n", `:1: "path" belongs in a [[folder]]`},
		{"unknown table", head + "[folders]\n", `:4: unknown table "folders"`},
		{"folder not an array", head + "[folder]\n", `:4: write each folder as [[folder]]`},
		{"bad duration", head + folder + "scan-interval = \"10 minutes\"\n", `:7: invalid scan-interval "10 minutes"`},
		{"duration without unit", head + folder + "max-staleness = 5\n", `:7: invalid max-staleness "5"`},
		{"bad size", head + folder + "content-cache = \"1GB\"\n", `:7: folder photos: --content-cache`},
		{"bad default size", "content-cache = \"lots\"\n" + head + folder, `:1: folder photos: --content-cache`},
		{"bad integer", head + folder + "workers = \"four\"\n", `:7: invalid workers "four"`},
		{"bad bool", head + "sync-always = \"yes\"\n", `:4: invalid sync-always "yes"`},
		{"float", head + folder + "workers = 2.5\n", `:7: workers: want a string, an integer or a boolean, not a float`},
		{"list for one value", head + folder + "compress = [\"s2\", \"zstd\"]\n", `:7: compress takes one value, not a list`},
		{"key twice", head + folder + "path = \"/b\"\n", `:7:`},
		{"syntax", head + folder + "workers = \n", `:7:`},
		{"tls twice", "tls-ca = \"a\"\n" + head + "tls-ca = \"b\"\n", `:5: "tls-ca" is already set on line 1`},
		{"no folder name", head + "[[folder]]\npath = \"/x\"\n", `:4: [[folder]] without folder = "NAME"`},
		{"no path", head + "[[folder]]\nfolder = \"photos\"\n", `:4: folder photos: --path is required`},
		{"bad folder name", head + "[[folder]]\nfolder = \"a b\"\npath = \"/x\"\n", `:4: folder a b: invalid folder name`},
		{"same folder twice", head + folder + folder, `:7: folder photos is already defined on line 4`},
		{"reserved data", head + "[[folder]]\nfolder = \"broker\"\npath = \"/x\"\n", `:4: folder broker: its data would be /var/db/jetsync/broker`},
		{"no data", "[broker]\nlisten = \"x\"\n" + folder, `:3: folder photos: data is required`},
		{"no broker", "data = \"/x\"\n" + folder, `give exactly one of nats = URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), tc.text)
			_, _, err := loadSource([]string{"--config", path}, nil)
			var ue usageError
			if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) ||
				(strings.HasPrefix(tc.want, ":") && !strings.HasPrefix(err.Error(), path+":")) {
				t.Fatalf("got %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

func TestConfigReplicaRefusesBroker(t *testing.T) {
	path := writeConfig(t, t.TempDir(), "nats = \"nats://x:4222\"\n\n[broker]\nlisten = \"x\"\n")
	_, _, err := loadReplica([]string{"--config", path}, nil)
	if err == nil || !strings.Contains(err.Error(), path+":3: unknown table [broker]") {
		t.Fatalf("got %v", err)
	}
}

// TestConfigFlagsOverride: a daemon-wide flag on the command line wins
// over the file; a folder's flag is refused there, --data is the
// daemon's.
func TestConfigFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "log-level = \"warn\"\nhttp = \"127.0.0.1:1\"\ndata = \"@DIR/a\"\n[broker]\nlisten = \"127.0.0.1:2\"\n"+
		"[[folder]]\nfolder = \"photos\"\npath = \"@DIR\"\n")
	c, _, err := loadSource([]string{"--config", path, "--log-level", "debug", "--listen", "127.0.0.1:3", "--data", dir + "/b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.lf.level != "debug" || c.hf.http != "127.0.0.1:1" || c.bf.listen != "127.0.0.1:3" || c.sf.data != dir+"/b" {
		t.Errorf("log-level %q http %q listen %q data %q", c.lf.level, c.hf.http, c.bf.listen, c.sf.data)
	}
	file, _ := readConfig(path)
	if _, cfg, err := c.folder(file, sourceSchema(), file.folders[0], nil); err != nil || cfg.DataDir != dir+"/b/photos" {
		t.Errorf("folder data %q, %v", cfg.DataDir, err)
	}
	for _, flag := range []string{"--path", "--folder", "--scan-interval"} {
		_, _, err := loadSource([]string{"--config", path, flag, "1m"}, nil)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), flag+" is a folder setting") {
			t.Errorf("%s with --config: %v", flag, err)
		}
	}
}

// TestConfigReloadKeepsDaemonSettings: a reload takes new folders and
// folder settings, but keeps process-wide settings as they run and says
// which changed.
func TestConfigReloadKeepsDaemonSettings(t *testing.T) {
	dir := t.TempDir()
	text := "http = \"127.0.0.1:1\"\ndata = \"@DIR\"\n[broker]\nlisten = \"127.0.0.1:2\"\n" +
		"[[folder]]\nfolder = \"photos\"\npath = \"@DIR\"\n"
	path := writeConfig(t, dir, text)
	_, first, err := loadSource([]string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.NewReplacer("127.0.0.1:2", "127.0.0.1:5", "127.0.0.1:1", "127.0.0.1:6").Replace(text)
	writeConfig(t, dir, changed+"[[folder]]\nfolder = \"docs\"\npath = \"@DIR\"\n")
	c, next, err := loadSource([]string{"--config", path}, first.daemon)
	if err != nil {
		t.Fatal(err)
	}
	if c.bf.listen != "127.0.0.1:2" || c.hf.http != "127.0.0.1:1" || len(next.changed) != 2 ||
		!strings.HasPrefix(next.changed[0], "http") || !strings.HasPrefix(next.changed[1], "listen") {
		t.Errorf("listen %q, http %q, changed %q", c.bf.listen, c.hf.http, next.changed)
	}
	if !slices.Equal(next.names(), []string{"photos", "docs"}) || next.units[0].fingerprint != first.units[0].fingerprint {
		t.Errorf("folders %q; photos changed: %v", next.names(), next.units[0].fingerprint != first.units[0].fingerprint)
	}
	writeConfig(t, dir, text+"scan-interval = \"1m\"\n")
	_, third, err := loadSource([]string{"--config", path}, first.daemon)
	if err != nil || third.units[0].fingerprint == first.units[0].fingerprint {
		t.Errorf("a changed folder setting keeps the fingerprint (%v)", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("data = \"/d\"\n[broker]\nlisten = \"x\"\n[[folder]]\nfolder = \"a\"\npath = \"/p\"\nexclude = [\"*.tmp\"]\n"))
	f.Add([]byte("a.b = 1\n[x.y]\n[[folder]]\nworkers = 0x10\n"))
	f.Add([]byte("k = { a = 1 }\nl = [[1], 2.5]\nd = 1979-05-27T07:32:00Z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("f.toml", data)
		if err != nil {
			var ue usageError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "f.toml:") {
				t.Fatalf("not a usage error naming the file: %v", err)
			}
			return
		}
		sc := sourceSchema()
		cmd := newSourceCmd()
		if err := sc.applyTop(cmd.fs, c, map[string]bool{}); err != nil {
			return
		}
		for _, sec := range c.folders {
			_, _, _ = cmd.folder(c, sc, sec, nil)
		}
	})
}
