// Package replica is the replica daemon: it follows a folder's stream in
// order, applies each path's latest state to the local tree through the
// confined filesystem, and records its position only after the change is
// on disk. It detects when it cannot trust its position any more (the
// broker lost data, the source bumped its epoch, the stream was recreated)
// and then reconciles against the full published state, deleting what
// should not exist and reusing local content instead of fetching it.
package replica
