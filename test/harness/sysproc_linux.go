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
