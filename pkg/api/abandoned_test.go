package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/curavani/matching/pkg/api"
)

// lockedBuffer is a log sink the API's goroutines may write to at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A request whose caller hung up before the work ended is cut off by its
// context; that is no failure of the service and must not be logged as
// one (the load test's clients, stopping mid-request, showed ERROR lines
// "request failed … context canceled" for every request they abandoned).
func TestAbandonedRequest_isNotLoggedAsAFailure(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *api.Config) { c.Log = log })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/platzsuchen/1", nil)
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code < 500 {
		t.Fatalf("status %d: the cut-off read should still answer a 5xx (nobody reads it)", rec.Code)
	}
	out := logs.String()
	if strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("an abandoned request was logged as an error:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"request abandoned by the caller"`) {
		t.Errorf("no line says the caller abandoned the request:\n%s", out)
	}

	// A request whose caller still waits and that fails is still an error.
	logs.mu.Lock()
	logs.buf.Reset()
	logs.mu.Unlock()
	e.pool.Close()
	rec = httptest.NewRecorder()
	e.api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/platzsuchen/1", nil))
	if rec.Code < 500 || !strings.Contains(logs.String(), `"msg":"request failed"`) {
		t.Errorf("status %d, log %s: a failed request the caller waits for must be logged as failed", rec.Code, logs.String())
	}
}
