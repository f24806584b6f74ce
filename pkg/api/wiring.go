package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store"
)

// Settings are the anfrage API's environment besides config.Common: the
// four neighbour services it calls, the business parameters, who may call
// it. A function embeds them in its envconfig spec and validates them with
// Validate.
type Settings struct {
	Neighbours config.Neighbours
	Matching   config.Matching
	// APITokens (comma list), when set, are the bearer tokens every /api
	// request must carry; health and metrics stay open.
	APITokens []string `envconfig:"API_TOKENS"`
	// CORSAllowedOrigins (comma list) may call the API from a browser;
	// unset allows no cross-origin calls ("*" must be said explicitly).
	CORSAllowedOrigins []string `envconfig:"CORS_ALLOWED_ORIGINS"`
}

// Validate checks every block (the API calls all four neighbour services)
// and drops blank entries of the two lists.
func (s *Settings) Validate() error {
	if err := s.Neighbours.Validate(); err != nil {
		return err
	}
	if err := s.Neighbours.Require("PATIENT_SERVICE_URL", "THERAPIST_SERVICE_URL",
		"COMMUNICATION_SERVICE_URL", "GEOCODING_SERVICE_URL"); err != nil {
		return err
	}
	if err := s.Matching.Validate(); err != nil {
		return err
	}
	s.APITokens = trimList(s.APITokens)
	s.CORSAllowedOrigins = trimList(s.CORSAllowedOrigins)
	return nil
}

func trimList(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Wire builds the API the way the anfrage-api function serves it, from its
// settings and what runtime.Run built: HTTP clients of the neighbour
// services with matching's copy of patients and therapists in front of them
// (composition and the selection list read it), the runtime's pool,
// publisher and logger. The API is the one
// function that reports the database-derived business counters, so Wire
// adds them to d.Metrics (metrics.CollectBusiness; call Wire once per
// Metrics).
func Wire(s Settings, d runtime.Deps) *Server {
	clients := neighbours.NewClients(s.Neighbours)
	cfg := Config{
		Config: placement.Config{
			Pool:          d.Pool,
			Patients:      clients.Patients,
			Therapists:    clients.Therapists,
			Distances:     clients.Distances,
			Communication: clients.Communication,
			Directory:     directory.New(d.Pool, clients, d.Log),
			Matching:      s.Matching,
			Log:           d.Log,
			ClaimTTL:      store.ClaimTTL(s.Neighbours.Timeout),
		},
		Tokens:      s.APITokens,
		CORSOrigins: s.CORSAllowedOrigins,
	}
	// A nil *outbox.Publisher in the interface would not compare nil.
	if d.Publisher != nil {
		cfg.Publisher = d.Publisher
	}
	if d.Metrics != nil {
		d.Metrics.CollectBusiness(d.Pool)
	}
	if d.Log != nil {
		d.Log.Info("anfrage API ready", slog.Bool("auth", len(s.APITokens) > 0),
			slog.Int("cors_origins", len(s.CORSAllowedOrigins)))
	}
	return New(cfg)
}

// FunctionName is the anfrage-api function's name.
const FunctionName = "anfrage-api"

// Function is the anfrage-api function with settings s: the routes Wire
// builds, served as plain HTTP; it consumes no events. Its main and the
// local stack run this same value.
func Function(s Settings) runtime.HTTPFunction {
	return runtime.HTTPFunction{
		Name: FunctionName,
		New:  func(d runtime.Deps) http.Handler { return Wire(s, d) },
	}
}
