// Package openapitest checks HTTP traffic of the tests against the anfrage
// API's OpenAPI document (contracts/openapi.json), so that the document
// cannot drift from the code: a response the document does not allow fails
// the test that caused it.
//
// Wrap the API's handler with Handler (an httptest server) or a client's
// transport with Transport/Client (a real server). The rules:
//
//   - Every response to an API path (/health, /api/…) is validated: its status
//     must be one the operation documents, its body must match that status's
//     schema. A path the document does not know must be answered with the
//     router's 404 error body; a method the document does not know for a
//     path it knows, with 405, an error body and an Allow header naming
//     exactly the path's documented methods (HEAD with GET).
//   - A request is validated when the server accepted it (2xx): whatever the
//     server takes must be inside the contract, so a field or parameter the
//     code reads but the document lacks fails the test that sends it. A
//     request the server refused (4xx, 5xx) is not judged: tests send bad
//     requests on purpose, and their answers are still checked.
//   - A test that deliberately sends something outside the contract which the
//     server tolerates (a limit above 1000, "true" as a query boolean in
//     another spelling, …) marks the request with the header Outside (its
//     value says why). The header is removed before the server sees it, and
//     the request must then fail validation: the mark cannot hide a request
//     the document allows, and it proves the document states the bound.
//   - Paths outside the API (the runtime's /health/liveness, /metrics) and
//     CORS preflights (OPTIONS) pass unchecked.
package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/errors"

	"github.com/curavani/matching/contracts"
)

// Outside is the request header that marks a request as deliberately
// outside the contract; see the package comment.
const Outside = "X-Contract-Outside"

var (
	loadOnce sync.Once
	shared   *Validator
	loadErr  error
)

// Validator validates requests and responses against the OpenAPI document.
type Validator struct {
	// mu serialises calls into the validator, which keeps caches of its own.
	mu sync.Mutex
	v  validator.Validator
}

// Load returns the validator of contracts/openapi.json, built once per test
// binary.
func Load(tb testing.TB) *Validator {
	tb.Helper()
	loadOnce.Do(func() { shared, loadErr = build(contracts.OpenAPI) })
	if loadErr != nil {
		tb.Fatalf("openapitest: %v", loadErr)
	}
	return shared
}

func build(spec []byte) (*Validator, error) {
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("build the OpenAPI validator: %v", errs)
	}
	return &Validator{v: v}, nil
}

// Lint validates the document itself against the OpenAPI 3.1 specification's
// schema (the linter libopenapi-validator embeds).
func (v *Validator) Lint() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, errs := v.v.ValidateDocument()
	return messages(errs)
}

// Handler serves next and checks every exchange against the document,
// reporting violations with tb.Errorf.
func Handler(tb testing.TB, next http.Handler) http.Handler {
	v := Load(tb)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outside, reqBody := prepare(r)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		resp := rec.Result()
		for _, p := range v.Check(r, reqBody, resp, rec.Body.Bytes(), outside) {
			tb.Errorf("contract: %s", p)
		}
	})
}

// Transport sends requests through base (nil: http.DefaultTransport) and
// checks every exchange against the document, reporting violations with
// tb.Errorf.
func Transport(tb testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{tb: tb, v: Load(tb), base: base}
}

// Client is an http.Client whose transport is Transport(tb, nil).
func Client(tb testing.TB) *http.Client {
	return &http.Client{Transport: Transport(tb, nil)}
}

type transport struct {
	tb   testing.TB
	v    *Validator
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	outside, reqBody := prepare(r)
	if reqBody != nil {
		r.ContentLength = int64(len(reqBody))
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	for _, p := range t.v.Check(r, reqBody, resp, body, outside) {
		t.tb.Errorf("contract: %s", p)
	}
	return resp, nil
}

// prepare takes the Outside mark off r and reads its body, leaving r with a
// fresh reader over the same bytes.
func prepare(r *http.Request) (outside string, body []byte) {
	outside = r.Header.Get(Outside)
	r.Header.Del(Outside)
	if r.Body != nil && r.Body != http.NoBody {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return outside, body
}

// Check validates one exchange by the rules of the package comment and
// returns what is wrong, one line per violation. reqBody and respBody are
// the bodies as sent; outside is the request's Outside mark ("" when none).
func (v *Validator) Check(r *http.Request, reqBody []byte, resp *http.Response, respBody []byte, outside string) []string {
	if r.Method == http.MethodOptions || !inAPI(r.URL.Path) {
		return nil
	}
	name := fmt.Sprintf("%s %s → %d", r.Method, r.URL.RequestURI(), resp.StatusCode)
	v.mu.Lock()
	defer v.mu.Unlock()

	req := withBody(r, reqBody)
	switch v.lookup(req) {
	case noPath:
		if resp.StatusCode == http.StatusNotFound && isErrorBody(respBody) {
			return nil
		}
		return []string{fmt.Sprintf("%s: the document has no such operation (not even its path), and the answer is not the router's 404: %s", name, short(respBody))}
	case noOperation:
		allow := v.allowed(req)
		if resp.StatusCode == http.StatusMethodNotAllowed && isErrorBody(respBody) && resp.Header.Get("Allow") == allow {
			return nil
		}
		return []string{fmt.Sprintf("%s: the document has no such operation, and the answer is not a 405 with Allow %q: Allow %q, %s",
			name, allow, resp.Header.Get("Allow"), short(respBody))}
	}

	var problems []string
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if ok, errs := v.v.ValidateHttpResponse(withBody(r, reqBody), resp); !ok {
		for _, m := range messages(errs) {
			problems = append(problems, fmt.Sprintf("%s: response: %s (body %s)", name, m, short(respBody)))
		}
	}
	_, reqErrs := v.v.ValidateHttpRequestSync(withBody(r, reqBody))
	switch {
	case outside != "" && len(reqErrs) == 0:
		problems = append(problems, fmt.Sprintf("%s: the request is marked outside the contract (%s), but the document allows it", name, outside))
	case outside == "" && resp.StatusCode < 300 && len(reqErrs) > 0:
		for _, m := range messages(reqErrs) {
			problems = append(problems, fmt.Sprintf("%s: the server accepted a request the document does not allow: %s", name, m))
		}
	}
	return problems
}

// found is what the document has for a request.
type found int

const (
	operation   found = iota // an operation for its path and method
	noOperation              // the path, but not for its method
	noPath                   // not even the path
)

// lookup finds r's path and method in the document.
func (v *Validator) lookup(r *http.Request) found {
	probe := r.Clone(r.Context())
	probe.Body = http.NoBody
	_, errs := v.v.ValidateHttpRequestSync(probe)
	for _, e := range errs {
		if e.ValidationType != "path" {
			continue
		}
		switch e.ValidationSubType {
		case "missing":
			return noPath
		case "missingOperation":
			return noOperation
		}
	}
	return operation
}

// allowed is the Allow header the document implies for r's path: its
// methods in the order net/http's ServeMux lists them (sorted), HEAD
// beside GET.
func (v *Validator) allowed(r *http.Request) string {
	var methods []string
	for _, m := range []string{http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodPatch, http.MethodPost, http.MethodPut} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if m == http.MethodHead {
			probe.Method = http.MethodGet
		}
		if v.lookup(probe) == operation {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", ")
}

// inAPI reports whether path belongs to the anfrage API's document rather
// than to the runtime around it.
func inAPI(path string) bool {
	return path == "/health" || strings.HasPrefix(path, "/api/")
}

// isErrorBody reports whether b is an error body {"message": "…"}.
func isErrorBody(b []byte) bool {
	var body map[string]any
	if json.Unmarshal(b, &body) != nil || len(body) != 1 {
		return false
	}
	m, ok := body["message"].(string)
	return ok && m != ""
}

func withBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = http.NoBody
	if body != nil {
		c.Body = io.NopCloser(bytes.NewReader(body))
	}
	return c
}

func messages(errs []*errors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		m := e.Message
		if e.Reason != "" {
			m += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			m += "; " + f.Error()
		}
		out = append(out, m)
	}
	return out
}

func short(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
