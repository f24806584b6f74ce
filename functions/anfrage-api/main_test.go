package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/contracts/openapitest"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestListenPort_PORTThenInternalPortThen8080(t *testing.T) {
	cases := map[string]struct {
		env      map[string]string
		internal int
		want     int
	}{
		"PORT set":                 {map[string]string{"PORT": "9000"}, 8003, 9000},
		"only the internal port":   {nil, 8003, 8003},
		"PORT empty":               {map[string]string{"PORT": ""}, 8003, 8003},
		"neither":                  {nil, 0, 8080},
		"PORT 8080 beats internal": {map[string]string{"PORT": "8080"}, 8003, 8080},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var cfg spec
			cfg.Port = 8080 // Common.Port's default
			if p, ok := tc.env["PORT"]; ok && p != "" {
				fmt.Sscan(p, &cfg.Port)
			}
			cfg.InternalPort = tc.internal
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			if got := listenPort(cfg, lookup); got != tc.want {
				t.Errorf("port %d, want %d", got, tc.want)
			}
		})
	}
}

func TestConfig_needsEveryNeighbourURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://localhost/x")
	t.Setenv("PATIENT_SERVICE_URL", "http://p")
	t.Setenv("THERAPIST_SERVICE_URL", "http://t")
	t.Setenv("COMMUNICATION_SERVICE_URL", "http://c")
	var cfg spec
	err := config.Load(&cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "GEOCODING_SERVICE_URL") {
		t.Fatalf("err %v, want one naming GEOCODING_SERVICE_URL", err)
	}
	t.Setenv("GEOCODING_SERVICE_URL", "http://g")
	t.Setenv("API_TOKENS", " a , ,b")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg.APITokens) != "[a b]" {
		t.Errorf("tokens %q", cfg.APITokens)
	}
}

func TestRun_servesTheAPIHealthAndMetricsAndStopsOnCancel(t *testing.T) {
	_, url := storetest.New(t)
	_, nb := fake.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for k, v := range map[string]string{
		"DATABASE_URL": url, "PATIENT_SERVICE_URL": nb.PatientURL, "THERAPIST_SERVICE_URL": nb.TherapistURL,
		"COMMUNICATION_SERVICE_URL": nb.CommunicationURL, "GEOCODING_SERVICE_URL": nb.GeocodingURL,
		"API_TOKENS": "secret", "MATCHING_SERVICE_INTERNAL_PORT": fmt.Sprint(port), "LOG_LEVEL": "ERROR",
	} {
		t.Setenv(k, v)
	}
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	opts := options(cfg, os.LookupEnv)
	if opts.Config.Port != port {
		t.Fatalf("listens on %d, want MATCHING_SERVICE_INTERNAL_PORT %d", opts.Config.Port, port)
	}
	opts.Log = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, api.Function(cfg.Settings), opts) }()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(path string, token string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := openapitest.Client(t).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get("/health/liveness", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		path, token string
		status      int
		contains    string
	}{
		{"/health", "", 200, `"service":"matching-service"`},
		{"/health/readiness", "", 200, "ready"},
		{"/metrics", "", 200, "matching_anfragen_created_total 0"},
		{"/api/platzsuchen", "", 401, "Unauthorized"},
		{"/api/platzsuchen", "secret", 200, `"total":0`},
		{"/nowhere", "", 404, "The requested URL was not found"},
	} {
		code, body := get(c.path, c.token)
		if code != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("GET %s: %d %s", c.path, code, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
