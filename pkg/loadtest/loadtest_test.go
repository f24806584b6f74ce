package loadtest_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/curavani/matching/contracts/openapitest"
	"github.com/curavani/matching/pkg/loadtest"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// The short version of make load: a few clients for a few seconds against
// the whole stack with authentication on, every exchange checked against
// the OpenAPI document, first with a quick communication service, then with
// one answering in a second (sends then hold a claim, not a connection).
// No answer may be a 5xx or a status the scenario does not expect, and every
// kind of write must have succeeded at least once, so the mix really ran.
func TestLoad_short_noServerErrorAndNoUnexpectedStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	for name, latency := range map[string]time.Duration{"quick communication": 0, "slow communication": time.Second} {
		t.Run(name, func(t *testing.T) {
			_, url := storetest.New(t)
			out, err := loadtest.RunScenario(context.Background(), loadtest.Scenario{
				DatabaseURL: url, Clients: 12, Duration: 3 * time.Second, CommunicationLatency: latency,
				Patients: 200, Therapists: 60, HTTP: openapitest.Client(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			var report bytes.Buffer
			out.Write(&report)
			out.Usage.Write(&report)
			t.Log("\n" + report.String())
			if n := out.ServerErrors(); n > 0 {
				t.Errorf("%d answers were 5xx", n)
			}
			if _, _, _, errs := out.Totals(); errs > 0 {
				t.Errorf("%d requests failed or got a status the scenario does not expect", errs)
			}
			for _, endpoint := range []string{
				"POST /api/platzsuchen", "PUT /api/platzsuchen/{id}",
				"POST /api/therapeutenanfragen/erstellen-fuer-therapeut",
				"POST /api/therapeutenanfragen/{id}/senden", "PUT /api/therapeutenanfragen/{id}/antwort",
			} {
				if e := out.Endpoints[endpoint]; e == nil || e.OK == 0 {
					t.Errorf("%s never succeeded: the mix did not run as meant", endpoint)
				}
			}
			if e := out.Endpoints["GET /api/platzsuchen (no token)"]; e != nil && e.Expected != len(e.Latencies) {
				t.Errorf("requests without a token: %v, want every one refused with 401", e.Statuses)
			}
			if out.Usage.ConnsPeak == 0 {
				t.Error("the monitor saw no database connection")
			}
		})
	}
}
