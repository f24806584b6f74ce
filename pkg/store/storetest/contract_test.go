package storetest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

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

// When a test's database is dropped, an event in its outbox that the
// AsyncAPI document does not allow fails the test; a valid one does not, nor
// does a row of a test that declared its events synthetic.
func TestNew_checksTheOutboxAgainstTheEventContract(t *testing.T) {
	const valid = `{"search_id":4,"patient_id":4,"old_status":"aktiv","new_status":"abgebrochen"}`
	cases := map[string]struct {
		payload   string
		synthetic bool
		want      string // "" when nothing is reported
	}{
		"valid event":              {valid, false, ""},
		"field renamed":            {strings.Replace(valid, "new_status", "status", 1), false, "missing property 'new_status'"},
		"synthetic, not checked":   {`{"search_id":4,"new_status":"step-1"}`, true, ""},
		"invalid status, reported": {`{"search_id":4,"patient_id":4,"old_status":null,"new_status":"weg"}`, false, "new_status"},
	}
	for name, tc := range cases {
		rec := &recorder{}
		t.Run(name, func(t *testing.T) {
			rec.TB = t
			pool, _ := storetest.New(rec)
			if tc.synthetic {
				storetest.SyntheticEvents(rec)
			}
			if _, err := pool.Exec(context.Background(),
				`INSERT INTO matching_service.outbox (event_type, partition_key, payload) VALUES ('search.status_changed', '4', $1)`, tc.payload); err != nil {
				t.Fatal(err)
			}
		})
		got := strings.Join(rec.errs, "\n")
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: reported %s", name, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: reported %q, want %q", name, got, tc.want)
		}
	}
}
