package fake_test

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/neighbours/fake"
)

func TestOnChange_announcesWhatChangedOverHTTPAsTheServicesDo(t *testing.T) {
	t.Parallel()
	f := fake.New()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var got []string
	f.OnChange(func(c fake.Change) {
		mu.Lock()
		defer mu.Unlock()
		reason, _ := c.Payload["reason"].(string)
		got = append(got, c.Type+" "+c.Key+" "+reason)
	})
	// The Go API stays silent.
	pid := f.AddPatient(fake.SamplePatient(nil))
	tid := f.AddTherapist(fake.SampleTherapist(nil))

	call(t, srv, "PUT", "/api/patients/1", map[string]any{"bevorzugtes_therapeutengeschlecht": "Weiblich"})
	call(t, srv, "PUT", "/api/patients/999", map[string]any{"vorname": "Niemand"}) // 404: nothing happened
	call(t, srv, "POST", "/api/patients", map[string]any{"vorname": "Neu", "nachname": "Patientin"})
	call(t, srv, "DELETE", "/api/patients/1", nil)
	call(t, srv, "PUT", "/api/therapists/1", map[string]any{"status": "gesperrt", "sperrgrund": "Urlaub"})
	call(t, srv, "PUT", "/api/therapists/1", map[string]any{"status": "aktiv"})
	call(t, srv, "PUT", "/api/therapists/1", map[string]any{"nachname": "Neu"})
	call(t, srv, "POST", "/api/therapists", map[string]any{"vorname": "Neu", "nachname": "Therapeut"})
	want := []string{"patient.updated 1 ", "patient.created 2 ", "patient.deleted 1 ",
		"therapist.blocked 1 Urlaub", "therapist.unblocked 1 ", "therapist.updated 1 ", "therapist.created 2 "}
	if d := cmp.Diff(want, got); d != "" || pid != 1 || tid != 1 {
		t.Errorf("announced (-want +got):\n%s", d)
	}
}
