package outbox_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/curavani/matching/pkg/events"
)

// Search 2, anfrage 2 and therapist 2 share the Kafka key "2" but are
// different entities: a search.status_changed the sink refuses holds back
// the later events of search 2, not those of anfrage 2 or therapist 2 —
// inline and in the relay. The record key stays the bare id.
func TestPublish_aStuckEventOfOneEntityDoesNotHoldBackAnotherWithTheSameKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sink.set(func(f *fakeSink) { f.badTypes[events.SearchStatusChanged] = http.StatusServiceUnavailable })
	stuck := e.commit(t, events.NewSearchStatusChanged(events.SearchStatusChangedData{SearchID: 2, PatientID: 7, NewStatus: "pausiert"}))
	e.publish(t, stuck)
	behindIt := e.commit(t, events.NewSearchStatusChanged(events.SearchStatusChangedData{SearchID: 2, PatientID: 7, NewStatus: "aktiv"}))
	others := e.commit(t,
		events.NewAnfrageCreated(events.AnfrageCreatedData{AnfrageID: 2, TherapistID: 5, PatientIDs: []int64{7}, AnfrageSize: 1}),
		events.NewCoolingPeriodStarted(events.CoolingPeriodStartedData{TherapistID: 2, NextContactableDate: "2030-01-01", Reason: events.CoolingManual}))
	e.publish(t, append(behindIt, others...))
	// Different entities go out in parallel, in any order.
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if d := cmp.Diff(others, e.sink.ids(), sorted); d != "" {
		t.Errorf("published inline (-want +got):\n%s", d)
	}
	for _, ev := range e.sink.events() {
		if k, _ := ev.Extensions()["partitionkey"].(string); k != "2" {
			t.Errorf("%s has partition key %q, want the seed's 2", ev.Type(), k)
		}
	}

	// The relay gives up on search:2 for this run and has nothing else.
	if n, err := e.pub.Relay(context.Background()); n != 0 || err == nil {
		t.Errorf("Relay = %d, %v; want 0 and the sink's error", n, err)
	}
	e.sink.set(func(f *fakeSink) { delete(f.badTypes, events.SearchStatusChanged) })
	if n, err := e.pub.Relay(context.Background()); n != 2 || err != nil {
		t.Fatalf("Relay = %d, %v; want 2, nil", n, err)
	}
	if d := cmp.Diff([]string{stuck[0], behindIt[0]}, e.sink.ids()[2:]); d != "" {
		t.Errorf("search 2's arrival order (-want +got):\n%s", d)
	}
}

// Every event type matching emits is ordered by the same key whether Add
// wrote the row or an instance of the previous version did (its rows get
// the key from the migration's outbox_ordering_key, by type).
func TestAdd_orderingKeyOfEveryEmittedTypeMatchesThePreviousVersionsRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, ev := range []events.Outgoing{
		events.NewAnfrageCreated(events.AnfrageCreatedData{AnfrageID: 4}),
		events.NewAnfrageSent(events.AnfrageSentData{AnfrageID: 4}),
		events.NewAnfrageResponseReceived(events.AnfrageResponseReceivedData{AnfrageID: 4}),
		events.NewAnfrageCancelled(events.AnfrageCancelledData{AnfrageID: 4}),
		events.NewAnfrageFollowUpScheduled(events.AnfrageFollowUpScheduledData{AnfrageID: 4}),
		events.NewAnfrageReviewNeeded(events.AnfrageReviewNeededData{AnfrageID: 4}),
		events.NewSearchStatusChanged(events.SearchStatusChangedData{SearchID: 4}),
		events.NewCoolingPeriodStarted(events.CoolingPeriodStartedData{TherapistID: 4}),
	} {
		var legacy string
		err := e.pool.QueryRow(context.Background(), `
			INSERT INTO matching_service.outbox (event_type, partition_key, payload) VALUES ($1, $2, '{}')
			RETURNING ordering_key`, ev.Type, ev.Key).Scan(&legacy)
		if err != nil {
			t.Fatal(err)
		}
		if legacy != ev.OrderingKey() || ev.Entity == "" {
			t.Errorf("%s: the previous version's row is ordered by %q, Add's by %q", ev.Type, legacy, ev.OrderingKey())
		}
	}
}
