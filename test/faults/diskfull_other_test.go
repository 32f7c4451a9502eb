//go:build !linux

package faults

import "testing"

// TestReplicaDiskFull needs a small tmpfs mounted as the replica's tree;
// see diskfull_linux_test.go.
func TestReplicaDiskFull(t *testing.T) {
	t.Skip("mounts a small tmpfs: Linux only")
}
