package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/wire"
	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// natsConf is the configuration for an external NATS server in deploy/.
const natsConf = "../../deploy/nats/jetsync.conf"

// The identities deploy/nats/jetsync.conf is written for, by the variable
// that holds each one's public key.
var confIdentities = map[string]access.Identity{
	"SOURCE_PHOTOS":       access.SourceOf("photos"),
	"REPLICA_PHOTOS_NAS2": access.ReplicaOf("photos", "nas2"),
	"REPLICA_PHOTOS_NAS3": access.ReplicaOf("photos", "nas3"),
	"MONITOR":             access.MonitorID(),
	"ADMIN":               access.AdminID(),
}

// TestExternalNATSConfig runs nats-server, as a library, from
// deploy/nats/jetsync.conf with credentials made by `jetsync credentials
// --dir`: its users have exactly the permissions of the embedded broker's;
// a source and two replicas sync through it; and the second replica's
// credentials are refused what TestLeastPrivilege's are.
func TestExternalNATSConfig(t *testing.T) {
	t.Parallel()
	credDir := t.TempDir()
	paths, url := startFromConfig(t, credDir)

	src := filepath.Join(t.TempDir(), "src")
	harness.Must(t, treegen.Generate(src, treegen.SmallSpec(47)))
	harness.WriteFile(t, filepath.Join(src, "keep.txt"), "what a forged tombstone would delete\n", 0o644)
	root := t.TempDir()
	harness.StartSource(t, "source", url, "photos", src, filepath.Join(root, "source-data"), "--nkey", paths["SOURCE_PHOTOS"])
	var dsts []string
	for _, r := range []string{"nas2", "nas3"} {
		dst := filepath.Join(root, "dst-"+r)
		dsts = append(dsts, dst)
		harness.StartReplica(t, "replica-"+r, url, "photos", dst, filepath.Join(root, "data-"+r), r,
			"--nkey", paths["REPLICA_PHOTOS_"+strings.ToUpper(r)])
	}
	harness.Eventually(t, 2*time.Minute, func() (bool, string) {
		for _, dst := range dsts {
			if ok, diff := harness.SameTree(t, src, dst); !ok {
				return false, diff
			}
		}
		return true, ""
	})
	if res := harness.Verify(t, url, "photos", dsts[0], "--nkey", paths["REPLICA_PHOTOS_NAS2"]); res.Code != 0 {
		t.Errorf("jetsync verify with a replica's credentials: %s", res)
	}
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		res := harness.RunCLI(t, 30*time.Second, "status", "--nats", url, "--nkey", paths["MONITOR"])
		ok := res.Code == 0 && strings.Contains(res.Stdout, "nas2") && strings.Contains(res.Stdout, "nas3")
		return ok, "jetsync status with the monitoring credentials does not show both replicas: " + res.String()
	})

	nk, err := nats.NkeyOptionFromSeed(paths["ADMIN"])
	harness.Must(t, err)
	nc, err := nats.Connect(url, nk)
	harness.Must(t, err)
	defer nc.Close()
	admin, err := jetstream.New(nc)
	harness.Must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err = bus.EnsureStream(ctx, admin, "other", bus.StreamOptions{})
	harness.Must(t, err)
	before := snapshot(t, admin, wire.StreamName("photos"))
	id := confIdentities["REPLICA_PHOTOS_NAS3"]
	a := dialAs(t, url, paths["REPLICA_PHOTOS_NAS3"], id)
	a.refused(replicaTries(t, "photos", "other", "nas3", "nas2", "keep.txt")...)
	if after := snapshot(t, admin, wire.StreamName("photos")); !after.same(before) {
		t.Errorf("the state stream changed: %+v, before %+v", after, before)
	}
	checkReplicasUnharmed(t, admin, "photos", "nas2")
}

// startFromConfig makes the credentials of confIdentities in dir, starts
// nats-server from deploy/nats/jetsync.conf with their public keys, on a
// loopback port and a temporary store, and checks that it gives each
// user its identity's permissions. It returns the credentials files by
// variable name and the server's URL.
func startFromConfig(t *testing.T, dir string) (map[string]string, string) {
	t.Helper()
	conf, err := os.ReadFile(natsConf)
	harness.Must(t, err)
	st := access.Store{Dir: dir}
	paths := map[string]string{}
	var vars strings.Builder
	byKey := map[string]access.Identity{}
	for name, id := range confIdentities {
		res := harness.RunCLI(t, 30*time.Second, credentialArgs(dir, id)...)
		if res.Code != 0 {
			t.Fatalf("jetsync credentials: %s", res)
		}
		paths[name] = strings.TrimSpace(res.Stdout)
		c, err := access.ReadCredentials(paths[name])
		harness.Must(t, err)
		if paths[name] != st.Path(id) || c.Identity != id {
			t.Fatalf("credentials of %s: %s, %+v", id, paths[name], c.Identity)
		}
		fmt.Fprintf(&vars, "%s: %q\n", name, c.Public)
		byKey[c.Public] = id
	}
	file := filepath.Join(t.TempDir(), "jetsync.conf")
	harness.Must(t, os.WriteFile(file, append([]byte(vars.String()), conf...), 0o600))
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("%s: %v", natsConf, err)
	}
	if len(opts.Nkeys) != len(confIdentities) {
		t.Fatalf("%s has %d users, want %d", natsConf, len(opts.Nkeys), len(confIdentities))
	}
	for _, u := range opts.Nkeys {
		id := byKey[u.Nkey]
		if !samePermissions(u.Permissions, access.Permissions(id)) {
			t.Errorf("%s gives %s %+v, the embedded broker %+v", natsConf, id, u.Permissions, access.Permissions(id))
		}
	}
	opts.Host, opts.Port, opts.StoreDir, opts.NoSigs = "127.0.0.1", -1, t.TempDir(), true
	srv, err := server.NewServer(opts)
	harness.Must(t, err)
	go srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return paths, srv.ClientURL()
}

func credentialArgs(dir string, id access.Identity) []string {
	args := []string{"credentials", "--dir", dir}
	switch id.Role {
	case access.Source:
		return append(args, "--folder", id.Folder, "--source")
	case access.Replica:
		return append(args, "--folder", id.Folder, "--replica", id.ID)
	}
	return append(args, "--"+string(id.Role))
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
