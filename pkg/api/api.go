// Package api is the anfrage API: the reference matching service's REST
// endpoints under /api (patient searches, the therapist selection list,
// building, sending and answering anfragen) with the deliberate differences
// of the product spec §6, plus the manual cooling endpoint.
//
// Handlers decode and validate the request, run the rules of pkg/matching
// and the SQL of pkg/store in one transaction together with the outbox rows
// of the events the change causes, publish those after commit and map the
// result to the reference's JSON. Errors are *fault.Error values; one
// function (writeError) turns them into the reference's error bodies.
package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/neighbours"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413.
const MaxBodyBytes = 1 << 20

// Publisher publishes committed outbox rows; *outbox.Publisher implements it.
type Publisher interface {
	Publish(ctx context.Context, ids []string)
}

// Config is what the API needs.
type Config struct {
	Pool          *pgxpool.Pool
	Patients      neighbours.Patients
	Therapists    neighbours.Therapists
	Distances     neighbours.Distances
	Communication neighbours.Communication
	// Publisher, if set, publishes the events of a request right after its
	// commit; what it cannot deliver stays in the outbox for the relay.
	Publisher Publisher
	Matching  config.Matching
	// Tokens, when not empty, are the bearer tokens every /api request must
	// carry (API_TOKENS).
	Tokens []string
	// CORSOrigins are the origins allowed to call the API from a browser
	// (CORS_ALLOWED_ORIGINS); "*" allows any. Empty allows none.
	CORSOrigins []string
	// Concurrency bounds the neighbour calls one request makes at a time
	// (patient records of a list page, composition); 0 means 16.
	Concurrency int
	Log         *slog.Logger
	// Now is the clock (UTC); nil means time.Now.
	Now func() time.Time
}

// Server serves the API.
type Server struct {
	cfg Config
	loc *time.Location
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API's handler: the /api routes and GET /health.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	s := &Server{cfg: cfg, loc: cfg.Matching.Location(), log: cfg.Log, mux: http.NewServeMux()}
	s.routes()
	return s
}

func (s *Server) routes() {
	m, h := s.mux, s.handle
	m.HandleFunc("GET /health", h(s.health))

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

	m.HandleFunc("/", h(func(*http.Request) (int, any, error) { return 0, nil, errNoRoute }))
}

// ServeHTTP applies CORS, authentication and the body limit, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && s.allowedOrigin(origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
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
	if strings.HasPrefix(r.URL.Path, "/api/") && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="matching"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) allowedOrigin(origin string) bool {
	return slices.Contains(s.cfg.CORSOrigins, "*") || slices.Contains(s.cfg.CORSOrigins, origin)
}

// authorized checks the bearer token against every configured token in
// constant time, so the answer's timing tells nothing about how much of a
// guess was right.
func (s *Server) authorized(r *http.Request) bool {
	if len(s.cfg.Tokens) == 0 {
		return true
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	match := 0
	for _, t := range s.cfg.Tokens {
		match |= subtle.ConstantTimeCompare([]byte(token), []byte(t))
	}
	return match == 1 && token != ""
}

func (s *Server) health(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]string{"status": "healthy", "service": "matching-service"}, nil
}

// now is the request's time: naive UTC at microsecond precision, as the
// timestamp columns store it.
func (s *Server) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}

// today is now in the service's TIMEZONE, for calendar-day rules (cooling
// dates, ages, the next working day).
func (s *Server) today(now time.Time) time.Time { return now.In(s.loc) }

// publish hands committed outbox rows to the publisher. A client that hung
// up does not cancel it: the change is committed, its events should go out
// now rather than wait for the relay. The publisher bounds its own wait.
func (s *Server) publish(ctx context.Context, ids []string) {
	if s.cfg.Publisher != nil && len(ids) > 0 {
		s.cfg.Publisher.Publish(context.WithoutCancel(ctx), ids)
	}
}
