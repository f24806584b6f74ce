// Package api is the anfrage API: the reference matching service's REST
// endpoints under /api (patient searches, the therapist selection list,
// building, sending and answering anfragen) with the deliberate differences
// of the product spec §6, plus the manual cooling endpoint and the reading
// of therapists' email replies (antwort-analyse, antwort-vorschlag,
// antwort-vorschlaege; enhancements B4).
//
// A handler decodes the request, makes one call and maps the result to the
// reference's JSON. Commands (every change, and the reads that apply a rule:
// the selection list, the cooling date) are use cases of pkg/placement,
// which owns their transactions and events; the list and detail reads are
// plain projections of pkg/store rows and neighbour records and are read
// here. Errors are *fault.Error values; one function (writeError) turns them
// into the reference's error bodies.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413.
const MaxBodyBytes = 1 << 20

// Config is what the API needs: what its use cases need (the pool, the
// neighbour clients, the publisher, the business parameters, the clock;
// the list and detail reads use the same), and who may call it.
type Config struct {
	placement.Config
	// Tokens, when not empty, are the bearer tokens every /api request must
	// carry (API_TOKENS), each "name:token" or a bare token (see Token).
	Tokens []string
	// CORSOrigins are the origins allowed to call the API from a browser
	// (CORS_ALLOWED_ORIGINS); "*" allows any. Empty allows none.
	CORSOrigins []string
}

// Server serves the API.
type Server struct {
	cfg     Config
	tokens  []Token
	digests [][sha256.Size]byte // of the tokens' secrets, in their order
	uc      *placement.Service
	log     *slog.Logger
	mux     *http.ServeMux
}

// New returns the API's handler: the /api routes and GET /health.
func New(cfg Config) *Server {
	cfg.Config = cfg.Config.WithDefaults()
	s := &Server{cfg: cfg, tokens: ParseTokens(cfg.Tokens), uc: placement.New(cfg.Config), log: cfg.Log, mux: http.NewServeMux()}
	for _, t := range s.tokens {
		s.digests = append(s.digests, sha256.Sum256([]byte(t.Secret)))
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	m, h := s.mux, s.handle
	m.HandleFunc("GET /health", h(s.health))
	m.HandleFunc("GET "+openAPIPath, openAPI)

	m.HandleFunc("GET /api/platzsuchen", h(s.listSearches))
	m.HandleFunc("POST /api/platzsuchen", h(s.createSearch))
	m.HandleFunc("GET /api/platzsuchen/{id}", h(s.getSearch))
	m.HandleFunc("PUT /api/platzsuchen/{id}", h(s.updateSearch))
	m.HandleFunc("DELETE /api/platzsuchen/{id}", h(s.deleteSearch))
	m.HandleFunc("POST /api/platzsuchen/{id}/kontaktanfrage", h(s.requestContacts))

	m.HandleFunc("GET /api/therapeuten-zur-auswahl", h(s.selectTherapists))
	m.HandleFunc("GET /api/therapeuten/{therapist_id}/naechster-kontakt", h(s.getCooling))
	m.HandleFunc("PUT /api/therapeuten/{therapist_id}/naechster-kontakt", h(s.setCooling))

	m.HandleFunc("POST /api/therapeutenanfragen/erstellen-fuer-therapeut", h(s.createAnfrage))
	m.HandleFunc("GET /api/therapeutenanfragen", h(s.listAnfragen))
	m.HandleFunc("GET /api/therapeutenanfragen/{id}", h(s.getAnfrage))
	m.HandleFunc("DELETE /api/therapeutenanfragen/{id}", h(s.deleteAnfrage))
	m.HandleFunc("POST /api/therapeutenanfragen/{id}/senden", h(s.sendAnfrage))
	m.HandleFunc("PUT /api/therapeutenanfragen/{id}/antwort", h(s.recordResponse))
	m.HandleFunc("POST /api/therapeutenanfragen/{id}/antwort-analyse", h(s.analyseReply))
	m.HandleFunc("GET /api/therapeutenanfragen/{id}/antwort-vorschlag", h(s.getReplySuggestion))
	m.HandleFunc("GET /api/antwort-vorschlaege", h(s.listReplySuggestions))

	m.HandleFunc("GET /api/verlauf", h(s.timeline))
}

// ServeHTTP gives the request its id, applies CORS, authentication and the
// body limit, makes the request the cause of what it changes, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, reqID)
	if origin := r.Header.Get("Origin"); origin != "" && s.allowedOrigin(origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", RequestIDHeader)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, "+RequestIDHeader)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", "GET, POST, PUT, DELETE, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	token, ok := s.authorized(r)
	if strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != openAPIPath && !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="matching"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	// Every transaction of the request records it as the cause of its
	// changes (store.WithTx), and every log line with its context carries
	// its id (runtime's logger).
	r = r.WithContext(store.WithCause(r.Context(), store.Cause{
		Kind: store.CauseAPI, Method: r.Method, Path: r.URL.Path, RequestID: reqID, Token: token,
	}))
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	// Handler only finds the route; ServeHTTP, which also sets the path
	// values, serves it.
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r, h)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers a request no route takes, as JSON: 405 with Allow when
// the path is served for other methods, else the reference's 404. muxAnswer
// is what the ServeMux would answer; it sets Allow and reports which of the
// two it is.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, muxAnswer http.Handler) {
	probe := &statusProbe{header: w.Header()}
	muxAnswer.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		s.writeError(w, r, errMethodNotAllowed)
		return
	}
	w.Header().Del("Allow")
	s.writeError(w, r, errNoRoute)
}

// statusProbe records the status of an answer and drops its body; its
// header is the real response's.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

func (s *Server) allowedOrigin(origin string) bool {
	return slices.Contains(s.cfg.CORSOrigins, "*") || slices.Contains(s.cfg.CORSOrigins, origin)
}

// authorized checks the bearer token against every configured token in
// constant time, so the answer's timing tells nothing about how much of a
// guess was right, and returns the name of the token that matched ("" when
// authentication is off). It compares SHA-256 digests, which all have one
// length: subtle.ConstantTimeCompare returns at once on a length mismatch,
// which would tell a caller how long the tokens are.
func (s *Server) authorized(r *http.Request) (name string, ok bool) {
	if len(s.tokens) == 0 {
		return "", true
	}
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	given := sha256.Sum256([]byte(token))
	match := 0
	for i, t := range s.tokens {
		m := subtle.ConstantTimeCompare(given[:], s.digests[i][:])
		if m == 1 {
			name = t.Name
		}
		match |= m
	}
	return name, match == 1 && token != ""
}

func (s *Server) health(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]string{"status": "healthy", "service": "matching-service"}, nil
}

// now is the request's time: naive UTC at microsecond precision, as the
// timestamp columns store it.
func (s *Server) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}
