package harness

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the daemon get SIGKILL if the test binary dies
// (a panic, a go test timeout), so no daemon outlives the suite.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// runAs makes the daemon run as uid and gid, with no other groups.
func runAs(cmd *exec.Cmd, uid, gid uint32) {
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
}
