//go:build !linux

package harness

import "os/exec"

// dieWithParent is a no-op where there is no parent-death signal; the
// t.Cleanup of every daemon still stops it on a normal test exit.
func dieWithParent(*exec.Cmd) {}

// runAs is not supported here: the daemon runs as this process's user.
func runAs(*exec.Cmd, uint32, uint32) {}
