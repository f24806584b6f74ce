package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The document passes the OpenAPI 3.1 specification's own schema, and the
// linter is no rubber stamp: an operation without responses fails it.
func TestDocument_passesTheOpenAPI31Linter(t *testing.T) {
	for _, p := range Load(t).Lint() {
		t.Error(p)
	}
	broken, err := build([]byte(`{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{"/x":{"get":{"responses":"none"}}}}`))
	if err == nil && len(broken.Lint()) == 0 {
		t.Error("a document with a string for responses passed the linter")
	}
}

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

// fixed answers every request with status and body.
func fixed(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

const validSend = `{"message":"Anfrage sent successfully","anfrage_id":2,"communication_type":"email","email_id":2,"phone_call_id":null,"sent_date":"2025-08-12T10:00:00"}`

// Each exchange of a server that leaves the contract is reported, and only
// those; the server's answer reaches the client unchanged.
func TestHandler_reportsWhatLeavesTheContract(t *testing.T) {
	cases := map[string]struct {
		method, path, body string
		header             []string
		handler            http.Handler
		wantProblem        string // "" when the exchange is within the contract
	}{
		"valid send": {"POST", "/api/therapeutenanfragen/2/senden", "", nil, fixed(200, validSend), ""},
		"response field renamed": {"POST", "/api/therapeutenanfragen/2/senden", "", nil,
			fixed(200, strings.Replace(validSend, `"email_id"`, `"mail_id"`, 1)), "response:"},
		"response field of the wrong type": {"POST", "/api/therapeutenanfragen/2/senden", "", nil,
			fixed(200, strings.Replace(validSend, `"anfrage_id":2`, `"anfrage_id":"2"`, 1)), "response:"},
		"undocumented status": {"POST", "/api/therapeutenanfragen/2/senden", "", nil, fixed(418, `{"message":"teapot"}`), "response:"},
		"argument error of reqparse": {"POST", "/api/platzsuchen", `{}`, nil,
			fixed(400, `{"message":{"patient_id":"Missing required parameter in the JSON body or the post body or the query string"}}`), ""},
		"error with its documented extra key": {"PUT", "/api/therapeutenanfragen/2/antwort", `{"patient_responses":{}}`, nil,
			fixed(400, `{"message":"Missing responses for some patients","missing_patient_ids":[2,7]}`), ""},
		"error with an undocumented extra key": {"PUT", "/api/therapeutenanfragen/2/antwort", `{"patient_responses":{}}`, nil,
			fixed(400, `{"message":"Missing responses for some patients","missing":[2,7]}`), "response:"},
		"accepted request with an unknown field": {"POST", "/api/platzsuchen", `{"patient_id":3,"prioritaet":1}`, nil,
			fixed(201, `{"id":3,"patient_id":3,"status":"aktiv","created_at":"2025-08-12T10:00:00","message":"Patient search created successfully"}`),
			"the server accepted a request the document does not allow"},
		"refused request is not judged": {"POST", "/api/platzsuchen", `{"patient_id":"drei"}`, nil,
			fixed(400, `{"message":{"patient_id":"invalid literal for int() with base 10: 'drei'"}}`), ""},
		"marked outside and outside": {"GET", "/api/platzsuchen?limit=5000", "", []string{Outside, "limit above 1000"},
			fixed(200, `{"data":[],"page":1,"limit":1000,"total":0}`), ""},
		"marked outside but allowed": {"GET", "/api/platzsuchen?limit=50", "", []string{Outside, "wrongly marked"},
			fixed(200, `{"data":[],"page":1,"limit":50,"total":0}`), "the document allows it"},
		"unknown route answered 404":             {"GET", "/api/gibtsnicht", "", nil, fixed(404, `{"message":"The requested URL was not found on the server."}`), ""},
		"unknown route answered 200":             {"GET", "/api/gibtsnicht", "", nil, fixed(200, `{}`), "no such operation"},
		"unknown method answered 405 with Allow": {"PATCH", "/api/platzsuchen", "", nil, withAllow("GET, HEAD, POST", fixed(405, `{"message":"The method is not allowed for the requested URL."}`)), ""},
		"unknown method answered 404":            {"PATCH", "/api/platzsuchen", "", nil, fixed(404, `{"message":"The requested URL was not found on the server."}`), "not a 405"},
		"unknown method with a wrong Allow":      {"PATCH", "/api/platzsuchen", "", nil, withAllow("GET", fixed(405, `{"message":"The method is not allowed for the requested URL."}`)), "not a 405"},
		"runtime path unchecked":                 {"GET", "/metrics", "", nil, fixed(200, `not json`), ""},
		"preflight unchecked":                    {"OPTIONS", "/api/platzsuchen", "", nil, fixed(204, ``), ""},
		"unauthorized": {"GET", "/api/platzsuchen", "", nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="matching"`)
			fixed(401, `{"message":"Unauthorized"}`).ServeHTTP(w, nil)
		}), ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{TB: t}
			var sawOutside string
			srv := httptest.NewServer(Handler(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sawOutside = r.Header.Get(Outside)
				tc.handler.ServeHTTP(w, r)
			})))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if sawOutside != "" {
				t.Errorf("the server saw the mark %q", sawOutside)
			}
			got := strings.Join(rec.errs, "\n")
			switch {
			case tc.wantProblem == "" && got != "":
				t.Errorf("reported, want nothing:\n%s", got)
			case tc.wantProblem != "" && !strings.Contains(got, tc.wantProblem):
				t.Errorf("reported %q, want a problem containing %q", got, tc.wantProblem)
			}
		})
	}
}

// The client side checks the same way and hands the body on unread.
func TestTransport_checksAndKeepsTheBody(t *testing.T) {
	srv := httptest.NewServer(fixed(200, strings.Replace(validSend, `"sent_date"`, `"sent"`, 1)))
	defer srv.Close()
	rec := &recorder{TB: t}
	req, _ := http.NewRequest("POST", srv.URL+"/api/therapeutenanfragen/2/senden", nil)
	resp, err := (&http.Client{Transport: Transport(rec, nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "sent") {
		t.Errorf("reported %q, want the missing sent_date", rec.errs)
	}
	buf := make([]byte, 10)
	if n, _ := resp.Body.Read(buf); n == 0 {
		t.Error("the body was consumed")
	}
}

// withAllow answers as h does, with the Allow header set.
func withAllow(allow string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.ServeHTTP(w, r)
	})
}
