package api_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

func coolingPath(id int64) string { return fmt.Sprintf("/api/therapeuten/%d/naechster-kontakt", id) }

func TestCooling_manualPeriodIsStoredAnnouncedAndRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMatching(func(m *config.Matching) { m.TherapistCoolingWriteback = true }))
	tid := e.therapist(map[string]any{"naechster_kontakt_moeglich": "2025-08-20"})

	r := e.do("GET", coolingPath(tid), nil).must(t, 200)
	want := map[string]any{"therapist_id": jsonNum(tid), "naechster_kontakt_moeglich": "2025-08-20", "grund": nil, "notiz": nil, "updated_at": nil}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("before (-want +got):\n%s", d)
	}

	r = e.do("PUT", coolingPath(tid), map[string]any{"naechster_kontakt_moeglich": "2025-10-01", "grund": "Urlaub"}).must(t, 200)
	want = map[string]any{"therapist_id": jsonNum(tid), "naechster_kontakt_moeglich": "2025-10-01", "grund": "manual", "notiz": "Urlaub", "updated_at": "2025-08-12T10:00:00.123456"}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("put (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, e.do("GET", coolingPath(tid), nil).must(t, 200).body); d != "" {
		t.Errorf("get after put (-want +got):\n%s", d)
	}
	wantEv := []outboxEvent{{Type: "cooling.period_started", Key: fmt.Sprint(tid), Payload: map[string]any{
		"therapist_id": jsonNum(tid), "next_contactable_date": "2025-10-01", "reason": "manual"}}}
	if d := cmp.Diff(wantEv, e.events(), cmpIgnoreID); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if rec, _ := e.fake.Therapist(tid); rec["naechster_kontakt_moeglich"] != "2025-10-01" {
		t.Errorf("write-back: therapist record has %v", rec["naechster_kontakt_moeglich"])
	}

	cases := map[string]struct {
		path   string
		body   any
		status int
		msg    any
	}{
		"missing date":    {coolingPath(tid), map[string]any{"grund": "x"}, 400, map[string]any{"naechster_kontakt_moeglich": missingHelp}},
		"bad date":        {coolingPath(tid), map[string]any{"naechster_kontakt_moeglich": "01.10.2025"}, 400, "Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD"},
		"impossible date": {coolingPath(tid), map[string]any{"naechster_kontakt_moeglich": "2025-02-30"}, 400, "Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD"},
		"unknown":         {coolingPath(999), map[string]any{"naechster_kontakt_moeglich": "2025-10-01"}, 404, "Therapist 999 not found"},
	}
	n := len(e.events())
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("PUT", tc.path, tc.body).must(t, tc.status)
			if d := cmp.Diff(tc.msg, r.body["message"]); d != "" {
				t.Error(d)
			}
		})
	}
	if got := len(e.events()); got != n {
		t.Errorf("failed PUTs emitted %d events", got-n)
	}
	e.do("GET", coolingPath(999), nil).must(t, 404)
	e.fake.SetDown(fake.TherapistService, true)
	e.do("GET", coolingPath(tid), nil).must(t, 503)
}

func TestAuth_bearerTokensGuardTheAPIButNotHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Tokens = []string{"alpha", "beta"} })
	cases := map[string]struct {
		header []string
		status int
	}{
		"no header":     {nil, 401},
		"wrong token":   {[]string{"Authorization", "Bearer gamma"}, 401},
		"prefix only":   {[]string{"Authorization", "Bearer alph"}, 401},
		"longer token":  {[]string{"Authorization", "Bearer alphabet"}, 401},
		"empty token":   {[]string{"Authorization", "Bearer "}, 401},
		"basic scheme":  {[]string{"Authorization", "Basic alpha"}, 401},
		"first token":   {[]string{"Authorization", "Bearer alpha"}, 200},
		"second token":  {[]string{"Authorization", "Bearer beta"}, 200},
		"scheme casing": {[]string{"Authorization", "bearer beta"}, 200},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/api/platzsuchen", nil, tc.header...).must(t, tc.status)
			if tc.status == 401 && r.body["message"] != "Unauthorized" {
				t.Errorf("body %s", r.raw)
			}
		})
	}
	r := e.do("GET", "/health", nil).must(t, 200)
	if d := cmp.Diff(map[string]any{"status": "healthy", "service": "matching-service"}, r.body); d != "" {
		t.Error(d)
	}
}

func TestCORS_onlyConfiguredOrigins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.CORSOrigins = []string{"https://app.example.org"} })
	r := e.do("OPTIONS", "/api/platzsuchen", nil, "Origin", "https://app.example.org", "Access-Control-Request-Method", "POST").must(t, 204)
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example.org" || r.header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight headers %v", r.header)
	}
	r = e.do("GET", "/api/platzsuchen", nil, "Origin", "https://app.example.org").must(t, 200)
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example.org" {
		t.Errorf("headers %v", r.header)
	}
	r = e.do("GET", "/api/platzsuchen", nil, "Origin", "https://evil.example.org").must(t, 200)
	if v := r.header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("foreign origin allowed: %q", v)
	}
	// Nothing configured: no CORS at all, never "*".
	plain := newEnv(t)
	r = plain.do("GET", "/api/platzsuchen", nil, "Origin", "https://app.example.org").must(t, 200)
	if v := r.header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("allowed %q without configuration", v)
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/api/gibtsnicht", nil).must(t, 404)
	if _, ok := r.body["message"].(string); !ok {
		t.Errorf("body %s", r.raw)
	}
}
