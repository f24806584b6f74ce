package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/runtime"
)

// shortTimeouts make a test of the read and idle bounds take a moment.
var shortTimeouts = config.HTTP{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}

// serveWith serves opts on a loopback port until the test ends.
func serveWith(t *testing.T, opts runtime.ServerOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.NewServer(opts).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// rawRequest writes raw to a new connection and returns the status line
// of the answer, or "closed" when the server closed the connection without
// one. The test's own deadline is far beyond the server's bounds.
func rawRequest(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if errors.Is(err, io.EOF) && line == "" {
		return "closed"
	}
	if err != nil {
		t.Fatalf("no answer from the server: %v", err)
	}
	return strings.TrimSpace(line)
}

// A request that announces a body and never sends it (issue 17's
// reproducer) is answered 408 once the read deadline passes (the API's
// answer is tested in pkg/api); one that never finishes its headers, and an
// idle kept-alive connection, are closed.
func TestServer_boundsReadingARequestAndIdleConnections(t *testing.T) {
	receiver := serveWith(t, runtime.ServerOptions{Handler: &recorder{}, Timeouts: shortTimeouts})
	partialEvent := "POST / HTTP/1.1\r\nHost: x\r\nCe-Specversion: 1.0\r\nCe-Id: a\r\nCe-Source: /s\r\nCe-Type: patient.deleted\r\n" +
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pa"
	if got := rawRequest(t, receiver, partialEvent); !strings.Contains(got, " 408 ") {
		t.Errorf("a late event body: %q, want 408", got)
	}
	if got := rawRequest(t, receiver, "POST / HTTP/1.1\r\nHost: x\r\nCe-Id: a"); got != "closed" && !strings.Contains(got, " 408 ") {
		t.Errorf("unfinished headers: %q, want the connection closed", got)
	}

	// An idle kept-alive connection is closed by the server.
	c, err := net.Dial("tcp", receiver)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("the idle connection was not closed by the server: %v", err)
	}
}

// A function's server answers a method a path is not served for with 405
// and the methods that are (its POST / takes every path).
func TestServer_aMethodAPathIsNotServedForIs405WithAllow(t *testing.T) {
	for name, s := range map[string]*runtime.Server{
		"event function":   runtime.NewServer(runtime.ServerOptions{Handler: &recorder{}}),
		"trigger function": runtime.NewServer(runtime.ServerOptions{Trigger: func(context.Context) error { return nil }}),
	} {
		for _, c := range []struct{ method, path, allow string }{
			{http.MethodGet, "/", "POST"},
			{http.MethodPut, "/", "POST"},
			{http.MethodDelete, "/health/readiness", "GET, HEAD, POST"},
		} {
			req, _ := http.NewRequest(c.method, c.path, nil)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != c.allow {
				t.Errorf("%s: %s %s = %d Allow %q, want 405 Allow %q", name, c.method, c.path, w.Code, w.Header().Get("Allow"), c.allow)
			}
		}
	}
}
