package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/devstack"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// `make run` stopped with SIGTERM (a process manager, `kill`, not Ctrl-C)
// leaves nothing running: the signal make passes on reaches matching-dev,
// which stops the stack, frees every port and removes its state file. Under
// `go run`, the go command died and left matching-dev holding the ports.
// The stack listens on 127.0.0.1 only.
func TestMakeRun_SIGTERMStopsEverythingAndListensOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack through make")
	}
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make on PATH")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(mk, "--no-print-directory", "-C", root, "run",
		"ARGS=-functions-port 0 -kafka-port 0 -neighbours-port 0 -state "+state)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+storetest.Empty(t), "MATCHING_SERVICE_INTERNAL_PORT=0", "LOG_LEVEL=WARN")
	// Its own process group, so the test can clean up whatever is left
	// without touching anything else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output to a file, not a pipe: a matching-dev left running would hold
	// a pipe open and Wait with it.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	out := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	st := waitState(t, state, exited, out)
	addrs := []string{hostPort(t, st.API), hostPort(t, st.Neighbours)}
	addrs = append(addrs, st.Brokers...)
	for _, u := range st.Functions {
		addrs = append(addrs, hostPort(t, u))
	}
	for _, a := range addrs {
		if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
			t.Errorf("%s listens on %s, want 127.0.0.1", a, host)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil { // make only
		t.Fatal(err)
	}
	<-exited
	t.Cleanup(func() { _ = syscall.Kill(st.PID, syscall.SIGKILL) })
	deadline := time.Now().Add(60 * time.Second)
	for running(st.PID) || fileExists(state) {
		if time.Now().After(deadline) {
			t.Fatalf("60 s after SIGTERM: matching-dev (pid %d) running %v, state file left %v\n%s",
				st.PID, running(st.PID), fileExists(state), out())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", a)
		}
	}
}

// waitState waits until the stack wrote its state file (make builds
// matching-dev first).
func waitState(t *testing.T, path string, exited <-chan error, out func() string) devstack.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for {
		if st, err := devstack.ReadState(path); err == nil {
			return st
		}
		select {
		case err := <-exited:
			t.Fatalf("make run ended before the stack was ready: %v\n%s", err, out())
		case <-ctx.Done():
			t.Fatalf("the stack did not become ready\n%s", out())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// running reports whether pid is a live process (a zombie left for a
// parent that does not reap counts as stopped).
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
