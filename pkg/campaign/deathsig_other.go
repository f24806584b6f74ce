//go:build !linux

package campaign

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death
// signal: the campaign's Stop ends its functions.
func dieWithParent(*exec.Cmd) {}
