package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// setup gives a migrated database with one due anfrage per therapist, the
// fake neighbours, and the job's configuration as the environment would.
func setup(t *testing.T, therapists int) (spec, *fake.Fake) {
	t.Helper()
	t.Setenv("LOG_LEVEL", "ERROR") // keep the test output short
	pool, url := storetest.New(t)
	f, nb := fake.Start(t)
	for i := 0; i < therapists; i++ {
		th := f.AddTherapist(fake.SampleTherapist(nil))
		_, err := pool.Exec(context.Background(), `
INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse, gesendet_datum)
VALUES ($1, 1, (now() AT TIME ZONE 'utc') - interval '10 days')`, th)
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DATABASE_URL", url)
	t.Setenv("THERAPIST_SERVICE_URL", nb.TherapistURL)
	t.Setenv("COMMUNICATION_SERVICE_URL", nb.CommunicationURL)
	cfg, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, f
}

func TestRun_exitsZeroWhenEveryAnfrageWasFollowedUp(t *testing.T) {
	cfg, f := setup(t, 3)
	if code := run(context.Background(), cfg); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if n := len(f.PhoneCalls()); n != 3 {
		t.Errorf("calls created = %d, want 3", n)
	}
}

// With K_SINK set, the run publishes its events once it is done: the
// CloudEvent carries the seed's key and payload, and the outbox row is
// marked published.
func TestRun_publishesTheEventsToTheSinkAfterTheRun(t *testing.T) {
	var (
		mu       sync.Mutex
		received []cloudevents.Event
	)
	sinkSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := cloudevents.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, *e)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sinkSrv.Close()
	t.Setenv("K_SINK", sinkSrv.URL)
	cfg, f := setup(t, 1)

	if code := run(context.Background(), cfg); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	calls := f.PhoneCalls()
	if len(calls) != 1 {
		t.Fatalf("calls created = %d, want 1", len(calls))
	}
	pool, err := store.Open(context.Background(), cfg.Database.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var unpublished int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`).Scan(&unpublished); err != nil || unpublished != 0 {
		t.Errorf("unpublished outbox rows = %d (%v), want 0", unpublished, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 1 {
		t.Fatalf("events at the sink = %d, want 1", len(received))
	}
	e := received[0]
	var data map[string]any
	if err := e.DataAs(&data); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"anfrage_id": float64(1), "therapist_id": float64(1), "phone_call_id": float64(calls[0].ID),
		"scheduled_date": calls[0].Body["geplantes_datum"], "scheduled_time": "10:00",
	}
	if e.Type() != "therapeutenanfrage.follow_up_scheduled" || e.Source() != "matching-service" ||
		e.Extensions()["partitionkey"] != "1" || !reflect.DeepEqual(data, want) {
		t.Errorf("event %s from %s, partitionkey %v, data %v; want the follow-up of anfrage 1 with %v",
			e.Type(), e.Source(), e.Extensions()["partitionkey"], data, want)
	}
}

func TestRun_exitsNonZeroWhenOneAnfrageFailed(t *testing.T) {
	cfg, f := setup(t, 3)
	f.FailNext(fake.CreatePhoneCall, 1, 500)
	if code := run(context.Background(), cfg); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if n := len(f.PhoneCalls()); n != 2 {
		t.Errorf("calls created = %d, want the other 2", n)
	}
}

func TestRun_dryRunAsOfAnotherDateCreatesNothing(t *testing.T) {
	cfg, f := setup(t, 2)
	cfg.FollowUp.DryRun = true
	cfg.FollowUp.AsOf = time.Now().AddDate(0, 0, 30).Format(time.DateOnly)
	if code := run(context.Background(), cfg); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if n := f.Count(fake.CreatePhoneCall); n != 0 {
		t.Errorf("a dry run created %d calls", n)
	}
}

// requiredEnv sets the variables the job cannot start without.
func requiredEnv(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://localhost/x")
	t.Setenv("THERAPIST_SERVICE_URL", "http://therapist")
	t.Setenv("COMMUNICATION_SERVICE_URL", "http://communication")
}

func TestConfig_namesTheMissingOrMalformedVariable(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"no communication service":      {env: map[string]string{"COMMUNICATION_SERVICE_URL": ""}, want: "COMMUNICATION_SERVICE_URL: required but not set"},
		"no therapist service":          {env: map[string]string{"THERAPIST_SERVICE_URL": ""}, want: "THERAPIST_SERVICE_URL: required but not set"},
		"bad as-of date":                {env: map[string]string{"FOLLOW_UP_AS_OF": "28.03.2025"}, want: `FOLLOW_UP_AS_OF: must be a date YYYY-MM-DD, got "28.03.2025"`},
		"as-of day that does not exist": {env: map[string]string{"FOLLOW_UP_AS_OF": "2025-02-30"}, want: `FOLLOW_UP_AS_OF: must be a date YYYY-MM-DD, got "2025-02-30"`},
		"bad --as-of flag":              {args: []string{"--as-of", "2025-3-28"}, want: `FOLLOW_UP_AS_OF: must be a date YYYY-MM-DD, got "2025-3-28"`},
		"bad threshold":                 {env: map[string]string{"FOLLOW_UP_THRESHOLD_DAYS": "0"}, want: "FOLLOW_UP_THRESHOLD_DAYS: must be at least 1, got 0"},
		"bad default time":              {env: map[string]string{"DEFAULT_PHONE_CALL_TIME": "10 Uhr"}, want: `DEFAULT_PHONE_CALL_TIME: must be HH:MM, got "10 Uhr"`},
		"bad dry-run switch":            {env: map[string]string{"FOLLOW_UP_DRY_RUN": "maybe"}, want: `FOLLOW_UP_DRY_RUN: cannot use "maybe" as bool`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			requiredEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := load(tc.args)
			if err == nil || err.Error() != tc.want {
				t.Errorf("config error %v, want the one line %q", err, tc.want)
			}
		})
	}
}

// FOLLOW_UP_DRY_RUN and FOLLOW_UP_AS_OF set the operator's switches; the
// flags --dry-run and --as-of win over them, even over a malformed value.
func TestConfig_flagsWinOverTheEnvironment(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		args []string
		want config.FollowUp
	}{
		"defaults":               {want: config.FollowUp{}},
		"environment":            {env: map[string]string{"FOLLOW_UP_DRY_RUN": "true", "FOLLOW_UP_AS_OF": "2025-03-28"}, want: config.FollowUp{DryRun: true, AsOf: "2025-03-28"}},
		"flags":                  {args: []string{"--dry-run", "--as-of", "2025-03-28"}, want: config.FollowUp{DryRun: true, AsOf: "2025-03-28"}},
		"flags over environment": {env: map[string]string{"FOLLOW_UP_DRY_RUN": "true", "FOLLOW_UP_AS_OF": "2025-03-28"}, args: []string{"--dry-run=false", "--as-of=2025-04-01"}, want: config.FollowUp{AsOf: "2025-04-01"}},
		"flag over a malformed environment value": {env: map[string]string{"FOLLOW_UP_AS_OF": "gestern"}, args: []string{"--as-of", "2025-04-01"}, want: config.FollowUp{AsOf: "2025-04-01"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			requiredEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := load(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.FollowUp != tc.want {
				t.Errorf("switches %+v, want %+v", cfg.FollowUp, tc.want)
			}
		})
	}
}
