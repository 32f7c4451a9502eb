package status

import (
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/seal"
)

// Unseal puts back, in the reports of folders encrypted with key, the
// texts their daemons sealed (errors, stuck paths; see bus.SealReplica).
// A report that does not open with key keeps bus.Redacted in their place,
// as every report does without a key.
func Unseal(folders []FolderStatus, key *seal.Key) {
	if key == nil {
		return
	}
	for i := range folders {
		f := &folders[i]
		keys := key.For(f.Folder)
		if f.Source != nil {
			_ = bus.OpenSource(keys, bus.SourceKey(f.Folder), f.Source)
		}
		for j := range f.Replicas {
			r := &f.Replicas[j].ReplicaStatus
			_ = bus.OpenReplica(keys, bus.ReplicaKey(f.Folder, r.ID), r)
		}
	}
}
