// Package status gathers what `jetsync status` shows: for each folder the
// size of its stream on the broker and what its source and replicas last
// reported in the status bucket (see bus.StatusBucket), and renders it for
// a human, with lag per replica and a STALE mark on daemons that stopped
// reporting.
package status
