package exclude

import (
	"strings"

	"github.com/jetsync/jetsync/pkg/wire"
)

// SnapshotDir is the ZFS snapshot directory at the root of a dataset
// (visible when the dataset's snapdir property is "visible"). Its
// contents are read-only copies of the whole tree: replicating them
// would multiply the folder.
const SnapshotDir = ".zfs"

// Builtin reports whether rel is never replicated, whatever the
// patterns: the ZFS snapshot directory at the folder root and everything
// in it, and jetsync's own temp files (wire.TempPrefix) at any depth.
func Builtin(rel string) bool {
	if rel == SnapshotDir || strings.HasPrefix(rel, SnapshotDir+"/") {
		return true
	}
	return strings.HasPrefix(rel[strings.LastIndexByte(rel, '/')+1:], wire.TempPrefix)
}
