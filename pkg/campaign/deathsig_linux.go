package campaign

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the function's process die with the campaign (a
// test's timeout kills it without cleanup).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
