package bus

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetsync/jetsync/pkg/seal"
)

func statusKeys(t *testing.T) *seal.Key {
	k, err := seal.Generate(filepath.Join(t.TempDir(), "key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A replica's status in an encrypted folder shows no path in the clear,
// only counts and Redacted; the folder's key gives every text back, and
// nothing else does.
func TestSealReplicaStatus(t *testing.T) {
	key := statusKeys(t).For("photos")
	orig := func() ReplicaStatus {
		return ReplicaStatus{ID: "nas2", Folder: "photos", Errors: 3, LastError: "apply secret/a.txt: no space",
			WaitingFor: "secret/b.bin", Note: "waiting for secret/c", Parked: 2,
			Stuck:      []StuckPath{{Path: "secret/d", Reason: "secret/d: denied", Seq: 7}, {Path: "secret/e", Reason: "x", Seq: 9}},
			LastVerify: &VerifyResult{Diffs: 1, First: "secret/f (content)", Error: "read secret/g"}}
	}
	st := orig()
	k := ReplicaKey("photos", "nas2")
	SealReplica(key, k, &st)
	b, _ := json.Marshal(st)
	if strings.Contains(string(b), "secret") {
		t.Fatalf("sealed status shows %s", b)
	}
	if st.LastError != Redacted || st.Stuck[1].Path != Redacted || st.Stuck[1].Seq != 9 || st.Errors != 3 || st.LastVerify.Diffs != 1 {
		t.Errorf("sealed status %+v", st)
	}
	other := st
	other.Stuck = append([]StuckPath(nil), st.Stuck...)
	if err := OpenReplica(statusKeys(t).For("photos"), k, &other); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("another key: %v", err)
	}
	if err := OpenReplica(key, ReplicaKey("photos", "nas3"), &other); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("another replica's key: %v", err)
	}
	if err := OpenReplica(nil, k, &other); !errors.Is(err, seal.ErrNotPlain) {
		t.Errorf("no key: %v", err)
	}
	if err := OpenReplica(key, k, &st); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(orig())
	if got, _ := json.Marshal(st); string(got) != string(want) {
		t.Errorf("opened\n%s\nwant\n%s", got, want)
	}
}

func TestSealSourceStatus(t *testing.T) {
	key := statusKeys(t).For("photos")
	st := SourceStatus{ID: "src", Errors: 1, LastError: "read secret/x: denied"}
	SealSource(key, SourceKey("photos"), &st)
	if b, _ := json.Marshal(st); strings.Contains(string(b), "secret") || st.LastError != Redacted {
		t.Fatalf("sealed status %s", b)
	}
	if err := OpenSource(key, SourceKey("photos"), &st); err != nil || st.LastError != "read secret/x: denied" || st.Sealed != "" {
		t.Errorf("opened %+v, %v", st, err)
	}
	var none *seal.FolderKeys
	plain := SourceStatus{LastError: "read secret/x"}
	SealSource(none, SourceKey("photos"), &plain)
	if plain.LastError != "read secret/x" || plain.Sealed != "" {
		t.Errorf("a plain folder's status changed: %+v", plain)
	}
}
