package access

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

func TestIdentity(t *testing.T) {
	good := map[Identity]string{
		SourceOf("photos"):                "source.photos",
		ReplicaOf("photos", "nas2"):       "replica.photos.nas2",
		ReplicaOf("photos", "nas2.local"): "replica.photos.nas2_local",
		MonitorID():                       "monitor",
		AdminID():                         "admin",
	}
	for id, name := range good {
		if err := id.Validate(); err != nil {
			t.Errorf("%+v: %v", id, err)
		}
		if id.Name() != name {
			t.Errorf("%+v: name %q, want %q", id, id.Name(), name)
		}
	}
	for _, id := range []Identity{
		{Role: "root"}, {Role: Source}, {Role: Source, Folder: "a.b"}, {Role: Source, Folder: "f", ID: "x"},
		{Role: Replica, Folder: "f"}, {Role: Replica, Folder: "f", ID: "a b"}, {Role: Replica, Folder: "f", ID: "a>"},
		{Role: Monitor, Folder: "f"}, {Role: Admin, ID: "x"},
	} {
		if err := id.Validate(); err == nil {
			t.Errorf("%+v accepted", id)
		}
	}
}

func TestInboxPrefixes(t *testing.T) {
	// Replicas of one folder share an inbox; no two other identities do,
	// and none lies under another's.
	if InboxPrefix(ReplicaOf("f", "a")) != InboxPrefix(ReplicaOf("f", "b")) {
		t.Error("replicas of one folder do not share their inbox")
	}
	prefixes := []string{InboxPrefix(SourceOf("f")), InboxPrefix(SourceOf("f_a")), InboxPrefix(ReplicaOf("f", "a")),
		InboxPrefix(ReplicaOf("f_a", "b")), InboxPrefix(MonitorID()), InboxPrefix(AdminID())}
	for i, a := range prefixes {
		for j, b := range prefixes {
			if i != j && (a == b || strings.HasPrefix(a, b+".")) {
				t.Errorf("inbox %q overlaps %q", a, b)
			}
		}
	}
}

func TestStore(t *testing.T) {
	st := Store{Dir: filepath.Join(t.TempDir(), "auth")}
	v0, err := st.Version()
	if err != nil {
		t.Fatal(err)
	}
	id := ReplicaOf("photos", "nas2")
	path, created, err := st.Ensure(id)
	if err != nil || !created || path != filepath.Join(st.Dir, "replica.photos.nas2.nk") {
		t.Fatalf("Ensure = %q, %v, %v", path, created, err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{st.Dir: 0o700, path: 0o600} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
			}
		}
	}
	c, err := ReadCredentials(path)
	if err != nil || c.Identity != id || !nkeys.IsValidPublicUserKey(c.Public) {
		t.Fatalf("ReadCredentials = %+v, %v", c, err)
	}
	if _, created, err := st.Ensure(id); err != nil || created {
		t.Errorf("second Ensure: created %v, %v", created, err)
	}
	again, _ := ReadCredentials(path)
	if again.Public != c.Public {
		t.Error("second Ensure replaced the key")
	}
	if _, _, err := st.Ensure(MonitorID()); err != nil {
		t.Fatal(err)
	}
	v1, _ := st.Version()
	users, err := st.Users()
	if err != nil || len(users) != 2 || v1 == v0 {
		t.Fatalf("Users = %d users, %v; version changed %v", len(users), err, v1 != v0)
	}
	for _, u := range users {
		if u.Nkey == c.Public && !reflect.DeepEqual(u.Permissions, Permissions(id)) {
			t.Errorf("the replica's user has permissions %+v", u.Permissions)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if v2, _ := st.Version(); v2 == v1 {
		t.Error("version unchanged after a removal")
	}
	// A seed file that names nobody is readable as a client's, but the
	// broker will not admit it: it cannot tell what it may do.
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	plain := filepath.Join(st.Dir, "plain.nk")
	if err := os.WriteFile(plain, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadCredentials(plain); err != nil || c.Identity.Role != "" {
		t.Errorf("plain seed: %+v, %v", c, err)
	}
	if _, err := st.Users(); err == nil {
		t.Error("a store with credentials of nobody was accepted")
	}
}

func TestReadCredentialsRejects(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"empty":   "",
		"garbage": "# role: replica\nnot a seed\n",
		"account": "SAAGNJOZTRPYYXG2NJX3ZNGXYUSDYX2BWO447W3SHG6XQ7U66RWHQ3JUXM\n",
		"bad id":  credentialsTextOf(t, Identity{Role: Replica, Folder: "f", ID: "a b"}),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCredentials(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func credentialsTextOf(t *testing.T, id Identity) string {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	return string(credentialsText(id, seed))
}

// TestConfigEntry checks that the entry written for a NATS server
// configuration gives exactly the permissions the embedded broker does.
func TestConfigEntry(t *testing.T) {
	ids := []Identity{SourceOf("photos"), ReplicaOf("photos", "nas2"), MonitorID(), AdminID()}
	var conf strings.Builder
	conf.WriteString("authorization {\n  users: [\n")
	pubs := map[string]Identity{}
	for _, id := range ids {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		pubs[pub] = id
		conf.WriteString(ConfigEntry(id, pub))
	}
	conf.WriteString("  ]\n}\n")
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", conf.String(), err)
	}
	if len(opts.Nkeys) != len(ids) {
		t.Fatalf("%d users parsed, want %d", len(opts.Nkeys), len(ids))
	}
	for _, u := range opts.Nkeys {
		id := pubs[u.Nkey]
		if !samePermissions(u.Permissions, Permissions(id)) {
			t.Errorf("%s: parsed %+v, want %+v", id, u.Permissions, Permissions(id))
		}
	}
}

// samePermissions compares what two permissions allow.
func samePermissions(a, b *server.Permissions) bool {
	if a == nil || b == nil {
		return a == b
	}
	allow := func(sp *server.SubjectPermission) []string {
		if sp == nil {
			return nil
		}
		return sp.Allow
	}
	resp := func(p *server.Permissions) int {
		if p.Response == nil {
			return 0
		}
		return p.Response.MaxMsgs
	}
	return reflect.DeepEqual(allow(a.Publish), allow(b.Publish)) && reflect.DeepEqual(allow(a.Subscribe), allow(b.Subscribe)) &&
		resp(a) == resp(b)
}
