package manifests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFunctions_startWithTheEnvironmentTheManifestsGive builds the function
// mains and starts each with exactly the environment its container gets
// (ConfigMap, Secret values, composed DATABASE_URL; for Knative Services also
// PORT and K_SERVICE), and fails when a function rejects its configuration
// (exit status 2, config.Exit). The database host does not resolve here, so a
// function stops later, at its first connection, or is stopped after a few
// seconds; either way its configuration was accepted.
func TestFunctions_startWithTheEnvironmentTheManifestsGive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the function binaries")
	}
	f := load(t)
	bin := functionBinaries(t)
	for _, fc := range f.set.FunctionContainers() {
		t.Run(fc.Owner, func(t *testing.T) {
			t.Parallel()
			checkDatabaseURL(t, fc.Env["DATABASE_URL"])
			env := map[string]string{}
			for k, v := range fc.Env {
				env[k] = v
			}
			if fc.Served {
				env["PORT"] = fmt.Sprint(freePort(t))
				env["K_SERVICE"], env["K_CONFIGURATION"], env["K_REVISION"] = fc.Function, fc.Function, fc.Function+"-00001"
			}
			code, stderr := runFor(t, filepath.Join(bin, fc.Function), env, 4*time.Second)
			if code == 2 {
				t.Errorf("%s rejects the environment of %s (exit 2):\n%s", fc.Function, fc.Owner, stderr)
			}
		})
	}
}

// TestFunctions_startCheckNoticesARejectedValue is the control of the test
// above: the same start with one malformed value ends in exit status 2.
func TestFunctions_startCheckNoticesARejectedValue(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the function binaries")
	}
	f := load(t)
	bin := functionBinaries(t)
	for _, fc := range f.set.FunctionContainers() {
		if fc.Function != "anfrage-api" {
			continue
		}
		env := map[string]string{"PORT": fmt.Sprint(freePort(t))}
		for k, v := range fc.Env {
			env[k] = v
		}
		env["DEFAULT_PHONE_CALL_TIME"] = "25:99"
		code, stderr := runFor(t, filepath.Join(bin, fc.Function), env, 4*time.Second)
		if code != 2 || !strings.Contains(stderr, "DEFAULT_PHONE_CALL_TIME") {
			t.Errorf("anfrage-api with DEFAULT_PHONE_CALL_TIME=25:99: exit %d, stderr %q; want 2 naming the variable", code, stderr)
		}
		return
	}
	t.Fatal("no anfrage-api container in the build")
}

// TestMain removes the function binaries the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binariesDir != "" {
		os.RemoveAll(binariesDir)
	}
	os.Exit(code)
}

var (
	binariesOnce sync.Once
	binariesDir  string
	binariesErr  error
)

// functionBinaries builds every main under functions/ once per test run.
func functionBinaries(t *testing.T) string {
	t.Helper()
	binariesOnce.Do(func() {
		binariesDir, binariesErr = os.MkdirTemp("", "matching-functions-")
		if binariesErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", binariesDir+string(filepath.Separator), "./functions/...")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			binariesErr = fmt.Errorf("go build ./functions/...: %v\n%s", err, out)
		}
	})
	if binariesErr != nil {
		t.Fatal(binariesErr)
	}
	return binariesDir
}

// checkDatabaseURL: the composed DATABASE_URL is a complete PostgreSQL URL.
func checkDatabaseURL(t *testing.T, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("DATABASE_URL %q: %v", raw, err)
	}
	pw, _ := u.User.Password()
	if u.Scheme != "postgres" || u.Hostname() == "" || u.User.Username() == "" || pw == "" || len(u.Path) < 2 || strings.Contains(raw, "$(") {
		t.Errorf("DATABASE_URL %q is not a complete postgres://user:password@host/database URL", raw)
	}
}

// runFor runs a binary with exactly env, stops it after d, and returns its
// exit status (-1 when it was stopped) and what it wrote to stderr.
func runFor(t *testing.T, binary string, env map[string]string, d time.Duration) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Env = []string{}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return -1, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	case err != nil:
		t.Fatalf("run %s: %v", binary, err)
	}
	return 0, stderr.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
