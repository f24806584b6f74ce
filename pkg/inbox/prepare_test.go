package inbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// downPool is a pool on a server that does not answer, as while
// PostgreSQL restarts.
func downPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/matching?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Found by the fault campaign: with the database down, a prepared route's
// reads (the dedupe lookup, and the route's own read of the database, such
// as whether a patient is in the copy) failed with an unclassified error,
// which a Kafka-direct consumer retries only a bounded number of times and
// then dead-letters — an outage of about a minute lost the event. A
// database that is down is fault.Unavailable, retried until it is back.
func TestPrepare_databaseDownIsUnavailable(t *testing.T) {
	good, _ := storetest.New(t)
	down := downPool(t)
	in := events.Inbound{Type: events.PatientUpdated, ID: "e1", DedupeKey: "e1", Payload: []byte(`{"patient_id":1}`)}
	readsTheDatabase := func(ctx context.Context, _ events.Inbound) (inbox.Step, error) {
		var n int
		if err := down.QueryRow(ctx, `SELECT 1`).Scan(&n); err != nil {
			return inbox.Step{}, fmt.Errorf("is patient 1 in the copy: %w", err)
		}
		return inbox.Step{}, nil
	}
	for name, pool := range map[string]*pgxpool.Pool{"the dedupe lookup": down, "the route's read": good} {
		t.Run(name, func(t *testing.T) {
			p := &inbox.Processor{Consumer: "c", Pool: pool,
				Prepared: map[string]inbox.Prepare{events.PatientUpdated: readsTheDatabase}}
			_, outcome, err := p.Prepare(context.Background(), in)
			if err == nil {
				t.Fatal("no error with the database down")
			}
			if k := fault.KindOf(err); k != fault.Unavailable {
				t.Errorf("kind %v (%v), want %v", k, err, fault.Unavailable)
			}
			if outcome != events.Failed {
				t.Errorf("outcome %s, want %s", outcome, events.Failed)
			}
		})
	}
}
