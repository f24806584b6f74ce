package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/store/storetest"
)

// TestMain runs the function itself when the test binary is started with
// RUN_FUNCTION=1, so the tests can exec it as a process.
func TestMain(m *testing.M) {
	if os.Getenv("RUN_FUNCTION") == "1" {
		main()
		os.Exit(0)
	}
	storetest.Main(m)
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// start runs binary with env and returns the process and the time its
// readiness probe first answered 200.
func start(t testing.TB, binary string, env ...string) (*exec.Cmd, time.Duration, *bytes.Buffer) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), append(env, "PORT="+port, "LOG_LEVEL=ERROR")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://127.0.0.1:" + port + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, time.Since(began), &stderr
			}
		}
		if time.Since(began) > 10*time.Second {
			cmd.Process.Kill()
			t.Fatalf("not ready after 10s: %s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFunction_missingDatabaseURLStopsWithOneLineAndStatus2(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"RUN_FUNCTION=1", "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2", err)
	}
	if got, want := stderr.String(), "patient-deleted: configuration: DATABASE_URL: required but not set\n"; got != want {
		t.Fatalf("stderr %q, want %q", got, want)
	}
}

// services are the neighbour URLs the function needs for matching's copy;
// nothing answers there, and nothing here calls them.
var services = []string{"PATIENT_SERVICE_URL=http://127.0.0.1:9", "THERAPIST_SERVICE_URL=http://127.0.0.1:9",
	"GEOCODING_SERVICE_URL=http://127.0.0.1:9"}

func TestFunction_servesUntilSIGTERMAndExitsCleanly(t *testing.T) {
	_, url := storetest.New(t)
	cmd, _, stderr := start(t, os.Args[0], append(services, "RUN_FUNCTION=1", "DATABASE_URL="+url)...)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v (%s)", err, stderr)
	}
}

// BenchmarkFunction builds the function as it ships (-trimpath -ldflags
// "-s -w") and measures process start to the first 200 of
// /health/readiness, the binary size, and the resident memory after a
// second of idling.
func BenchmarkFunction(b *testing.B) {
	_, url := storetest.New(b)
	binary := filepath.Join(b.TempDir(), "patient-deleted")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	info, err := os.Stat(binary)
	if err != nil {
		b.Fatal(err)
	}
	var ready time.Duration
	var rss float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd, took, stderr := start(b, binary, append(services, "DATABASE_URL="+url)...)
		ready += took
		if i == b.N-1 {
			b.StopTimer()
			time.Sleep(time.Second)
			rss = residentMB(b, cmd.Process.Pid)
			b.StartTimer()
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("exit: %v (%s)", err, stderr)
		}
	}
	b.ReportMetric(float64(ready.Microseconds())/1000/float64(b.N), "ms-to-ready")
	b.ReportMetric(float64(info.Size())/(1<<20), "binary-MB")
	b.ReportMetric(rss, "idle-RSS-MB")
}

// residentMB reads VmRSS of a process.
func residentMB(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
