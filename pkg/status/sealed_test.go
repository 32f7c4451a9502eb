package status

import (
	"path/filepath"
	"testing"

	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/seal"
)

// `jetsync status` with the folder's key shows what the daemons sealed;
// without it, or with another key, "(encrypted)" and the counts.
func TestUnseal(t *testing.T) {
	key, err := seal.Generate(filepath.Join(t.TempDir(), "key"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := seal.Generate(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	reports := func() []FolderStatus {
		src := &bus.SourceStatus{LastError: "read a/b: denied", Errors: 1}
		bus.SealSource(key.For("photos"), bus.SourceKey("photos"), src)
		rep := bus.ReplicaStatus{ID: "nas2", Stuck: []bus.StuckPath{{Path: "a/c", Reason: "denied"}}}
		bus.SealReplica(key.For("photos"), bus.ReplicaKey("photos", "nas2"), &rep)
		return []FolderStatus{{Folder: "photos", Source: src, Replicas: []Replica{{ReplicaStatus: rep}}}}
	}
	for name, k := range map[string]*seal.Key{"no key": nil, "another key": other} {
		fs := reports()
		Unseal(fs, k)
		if fs[0].Source.LastError != bus.Redacted || fs[0].Replicas[0].Stuck[0].Path != bus.Redacted {
			t.Errorf("%s: %+v %+v", name, fs[0].Source, fs[0].Replicas[0])
		}
	}
	fs := reports()
	Unseal(fs, key)
	if fs[0].Source.LastError != "read a/b: denied" || fs[0].Replicas[0].Stuck[0].Path != "a/c" || fs[0].Replicas[0].Stuck[0].Reason != "denied" {
		t.Errorf("with the key: %+v %+v", fs[0].Source, fs[0].Replicas[0])
	}
}
