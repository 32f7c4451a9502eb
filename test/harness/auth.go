package harness

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetsync/jetsync/pkg/access"
)

// The credentials of the brokers a test starts with Bin: a broker admits
// only the credentials in its store (DATA/auth, beside DATA/broker), so the harness
// makes the ones each daemon and command needs there, and passes them with
// --nkey (see withCredentials).
var stores = struct {
	sync.Mutex
	byURL  map[string]string   // nats://listen address: store directory
	byTest map[string][]string // top-level test: its brokers' stores, in start order
}{byURL: map[string]string{}, byTest: map[string][]string{}}

// credentialFlags are the flags that say who a client is, or that it runs
// its own broker: given one, the harness adds no credentials.
var credentialFlags = []string{"--nkey", "--creds", "--token-file", "--user", "--listen", "--insecure"}

// registerBroker notes the store of a broker started with args.
func registerBroker(t testing.TB, args []string) {
	if len(args) == 0 || args[0] != "broker" || slices.Contains(args, "--insecure") {
		return
	}
	data, listen := argValue(args, "--data"), argValue(args, "--listen")
	if data == "" {
		return
	}
	dir := filepath.Join(data, "auth")
	stores.Lock()
	defer stores.Unlock()
	if listen != "" {
		stores.byURL["nats://"+listen] = dir
	}
	key := topName(t)
	if !slices.Contains(stores.byTest[key], dir) {
		stores.byTest[key] = append(stores.byTest[key], dir)
	}
}

// storeOf is the store of the broker at natsURL (the first of a list), or
// else of the first broker the test started: a URL may lead to a broker
// through a proxy.
func storeOf(t testing.TB, natsURL string) (string, []string) {
	stores.Lock()
	defer stores.Unlock()
	all := stores.byTest[topName(t)]
	first, _, _ := strings.Cut(natsURL, ",")
	if dir, ok := stores.byURL[first]; ok {
		return dir, all
	}
	if len(all) > 0 {
		return all[0], all
	}
	return "", nil
}

// Credentials returns the credentials file of id for the broker at
// natsURL, made in its store on first use, or "" if the test started no
// broker with Bin. The test's other brokers get a copy of its store: the
// nodes of a cluster must all admit the same credentials. New credentials
// are returned once the broker admits them, as a command would fail
// before.
func Credentials(t testing.TB, natsURL string, id access.Identity) string {
	t.Helper()
	dir, all := storeOf(t, natsURL)
	if dir == "" {
		return ""
	}
	st := access.Store{Dir: dir}
	path, created, err := st.Ensure(id)
	Must(t, err)
	for _, other := range all {
		if other != dir {
			copyStore(t, dir, other)
		}
	}
	if created {
		waitAdmitted(t, natsURL, path)
	}
	return path
}

// waitAdmitted waits up to 10 seconds while the broker at natsURL refuses
// the credentials in path; a broker that cannot be reached is not waited
// for.
func waitAdmitted(t testing.TB, natsURL, path string) {
	t.Helper()
	nk, err := nats.NkeyOptionFromSeed(path)
	Must(t, err)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		nc, err := nats.Connect(natsURL, nk, nats.Timeout(2*time.Second), nats.NoReconnect(),
			nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // the refusals are expected
		if err == nil {
			nc.Close()
			return
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			return
		}
	}
}

// copyStore makes the credentials files of to those of from.
func copyStore(t testing.TB, from, to string) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(from, "*"+access.Ext))
	Must(t, err)
	Must(t, os.MkdirAll(to, 0o700))
	for _, n := range names {
		data, err := os.ReadFile(n)
		Must(t, err)
		dst := filepath.Join(to, filepath.Base(n))
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(data) {
			continue
		}
		tmp := filepath.Join(to, ".copy"+access.Ext)
		Must(t, os.WriteFile(tmp, data, 0o600))
		Must(t, os.Rename(tmp, dst))
	}
}

// withCredentials adds --nkey with the credentials a jetsync command
// needs against a broker the test started, unless it names its
// credentials or runs its own broker: a source's of its folder, a
// replica's of its folder and id (for replica and repair), the monitoring
// credentials for status,
// and for verify those of a replica of the folder. Another build than Bin
// (an older release) gets none.
func withCredentials(t testing.TB, b Binary, args []string) []string {
	if len(args) == 0 || string(b) != Bin || slices.ContainsFunc(credentialFlags, func(f string) bool { return slices.Contains(args, f) }) {
		return args
	}
	url, folder := argValue(args, "--nats"), argValue(args, "--folder")
	if url == "" {
		return args
	}
	var id access.Identity
	switch args[0] {
	case "source":
		id = access.SourceOf(folder)
	case "replica", "repair":
		id = access.ReplicaOf(folder, argValue(args, "--id"))
	case "verify":
		id = access.ReplicaOf(folder, "e2e-verify")
	case "status":
		id = access.MonitorID()
	default:
		return args
	}
	if id.Validate() != nil {
		return args
	}
	path := Credentials(t, url, id)
	if path == "" {
		return args
	}
	return append(slices.Clone(args), "--nkey", path)
}

// AdminOptions are the options of a plain NATS client with every right on
// the broker at natsURL: the administrator's credentials, if the test
// started that broker.
func AdminOptions(t testing.TB, natsURL string) []nats.Option {
	t.Helper()
	path := Credentials(t, natsURL, access.AdminID())
	if path == "" {
		return nil
	}
	nk, err := nats.NkeyOptionFromSeed(path)
	Must(t, err)
	return []nats.Option{nk}
}

// argValue is the value of flag in args ("--flag value" or "--flag=value").
func argValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}
