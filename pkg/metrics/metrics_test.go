package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// Every publication type exists at 0 from the start; an attempt counts as
// published or failed by its error, an unknown type as "other", and every
// attempt is timed.
func TestObserver_countsPublishedAndFailedByType(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.Observer(events.AnfrageCreated, nil, 3*time.Millisecond)
	m.Observer(events.AnfrageCreated, nil, 3*time.Millisecond)
	m.Observer(events.AnfrageSent, errors.New("sink: 503"), 2*time.Second)
	m.Observer("made.up", nil, time.Millisecond)

	s := scrape(t, m.Handler())
	zero := map[string]float64{}
	for _, typ := range []string{events.AnfrageCreated, events.AnfrageSent, events.AnfrageResponseReceived,
		events.AnfrageCancelled, events.AnfrageFollowUpScheduled, events.SearchStatusChanged,
		events.CoolingPeriodStarted, events.AnfrageCompositionChanged, "other"} {
		zero["type="+typ] = 0
	}
	wantPublished := with(zero, map[string]float64{"type=therapeutenanfrage.created": 2, "type=other": 1})
	if d := cmp.Diff(wantPublished, s.Series("matching_events_published_total")); d != "" {
		t.Errorf("matching_events_published_total (-want +got):\n%s", d)
	}
	wantFailed := with(zero, map[string]float64{"type=therapeutenanfrage.sent": 1})
	if d := cmp.Diff(wantFailed, s.Series("matching_events_publish_failed_total")); d != "" {
		t.Errorf("matching_events_publish_failed_total (-want +got):\n%s", d)
	}
	if got := s.Value(t, "matching_event_publish_duration_seconds", "count"); got != 4 {
		t.Errorf("publish duration count = %v, want 4", got)
	}
	if got := s.Value(t, "matching_event_publish_duration_seconds", "le=0.005"); got != 3 {
		t.Errorf("publish duration le=0.005 = %v, want 3", got)
	}
	if got, want := s.Value(t, "matching_event_publish_duration_seconds", "sum"), 2.007; !approx(got, want) {
		t.Errorf("publish duration sum = %v, want %v", got, want)
	}
}

// A consumed event is counted by source, type and outcome; a source or
// type first seen brings all six outcomes at 0. A KafkaSource's source is
// reduced to its topic, aliases to the canonical type, a type matching does
// not know to "other", a type never read to "unknown".
func TestObserveConsumed_countsBySourceTypeAndOutcome(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	const kafkaSource = "/apis/v1/namespaces/matching/kafkasources/patient-events#patient-events"
	m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, 20*time.Millisecond)
	m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, 30*time.Millisecond)
	m.ObserveConsumed(kafkaSource, events.PatientDeleted, events.Duplicate, time.Millisecond)
	m.ObserveConsumed("patient-events", events.PatientDeleted, events.Failed, time.Second)
	m.ObserveConsumed("patient-events", "", events.Rejected, time.Millisecond)
	m.ObserveConsumed("patient-events", "patient.archived", events.Ignored, time.Millisecond)
	m.ObserveConsumed("communication-events", "communication.email_sent", events.Processed, 5*time.Millisecond)

	s := scrape(t, m.Handler())
	want := map[string]float64{}
	for _, st := range []string{"source=patient-events,type=patient.deleted", "source=patient-events,type=unknown",
		"source=patient-events,type=other", "source=communication-events,type=email.sent"} {
		for _, o := range []string{"processed", "duplicate", "ignored", "rejected", "failed", "exhausted"} {
			want["outcome="+o+","+st] = 0
		}
	}
	want = with(want, map[string]float64{
		"outcome=processed,source=patient-events,type=patient.deleted":  2,
		"outcome=duplicate,source=patient-events,type=patient.deleted":  1,
		"outcome=failed,source=patient-events,type=patient.deleted":     1,
		"outcome=rejected,source=patient-events,type=unknown":           1,
		"outcome=ignored,source=patient-events,type=other":              1,
		"outcome=processed,source=communication-events,type=email.sent": 1,
	})
	if d := cmp.Diff(want, s.Series("matching_events_consumed_total")); d != "" {
		t.Errorf("matching_events_consumed_total (-want +got):\n%s", d)
	}
	dur := "matching_event_processing_duration_seconds"
	if got := s.Value(t, dur, "source=patient-events,type=patient.deleted,count"); got != 4 {
		t.Errorf("processing duration count of patient.deleted = %v, want 4", got)
	}
	if got := s.Value(t, dur, "le=0.025,source=patient-events,type=patient.deleted"); got != 2 {
		t.Errorf("processing duration le=0.025 of patient.deleted = %v, want 2", got)
	}
	if got := s.Value(t, dur, "source=communication-events,type=email.sent,sum"); !approx(got, 0.005) {
		t.Errorf("processing duration sum of email.sent = %v, want 0.005", got)
	}
}

// Whatever sources a caller passes, a process reports at most 16; the rest
// are counted as "other".
func TestObserveConsumed_boundsTheNumberOfSources(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	for i := range 20 {
		m.ObserveConsumed(fmt.Sprintf("source-%02d", i), events.PatientDeleted, events.Processed, time.Millisecond)
	}
	s := scrape(t, m.Handler())
	processed := map[string]float64{}
	for k, v := range s.Series("matching_events_consumed_total") {
		if v > 0 {
			processed[k] = v
		}
	}
	want := map[string]float64{"outcome=processed,source=other,type=patient.deleted": 4}
	for i := range 16 {
		want[fmt.Sprintf("outcome=processed,source=source-%02d,type=patient.deleted", i)] = 1
	}
	if d := cmp.Diff(want, processed); d != "" {
		t.Errorf("processed series (-want +got):\n%s", d)
	}
}

// The lag of a partition is its last reported value, never negative, and a
// partition the process gave up is no longer reported.
func TestSetLag_reportsPerPartitionAndForgetsRevokedOnes(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.SetLag("patient-events", 0, 12)
	m.SetLag("patient-events", 0, 7)
	m.SetLag("patient-events", 1, -3)
	m.SetLag("patient-events", 2, 40)
	m.ForgetLag("patient-events", 2)

	want := map[string]float64{"partition=0,topic=patient-events": 7, "partition=1,topic=patient-events": 0}
	if d := cmp.Diff(want, scrape(t, m.Handler()).Series("matching_consumer_lag_messages")); d != "" {
		t.Errorf("matching_consumer_lag_messages (-want +got):\n%s", d)
	}
}

// Code built without metrics calls the per-event methods on a nil
// *Metrics; they do nothing.
func TestNilMetrics_recordsNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.Observer(events.AnfrageCreated, nil, time.Millisecond)
	m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, time.Millisecond)
	m.SetLag("patient-events", 0, 3)
	m.ForgetLag("patient-events", 0)
}

// The Go runtime and process collectors are registered in the process's own
// registry; nothing comes from the global default registry.
func TestHandler_exposesGoAndProcessMetrics(t *testing.T) {
	t.Parallel()
	s := scrape(t, metrics.New(metrics.Options{}).Handler())
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total",
		"promhttp_metric_handler_errors_total"} {
		if _, ok := s[name]; !ok {
			t.Errorf("%s not scraped", name)
		}
	}
}

// The observer hook and the backlog collector fit the outbox publisher: a
// delivered event is counted as published, a refused one as failed, and the
// one left in the outbox is the backlog, with the age of the oldest.
func TestOutboxWiring_countsSendsAndReportsTheBacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.New(t)
	m := metrics.New(metrics.Options{})
	sink := &refusingSink{refuse: events.AnfrageSent}
	pub := outbox.NewPublisher(pool, sink, slog.New(slog.DiscardHandler), outbox.WithObserver(m.Observer))
	m.CollectBacklog(pub.Backlog)

	var ids []string
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		var err error
		ids, err = outbox.Add(ctx, tx,
			events.NewAnfrageCreated(events.AnfrageCreatedData{AnfrageID: 1, TherapistID: 9, PatientIDs: []int64{3}, AnfrageSize: 1}),
			events.NewAnfrageSent(events.AnfrageSentData{AnfrageID: 2, CommunicationType: events.ChannelEmail, CommunicationID: 12}),
			events.NewAnfrageCreated(events.AnfrageCreatedData{AnfrageID: 3, TherapistID: 9, PatientIDs: []int64{4}, AnfrageSize: 1}),
		)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The refused event was written 90 seconds ago.
	if _, err := pool.Exec(ctx, `UPDATE matching_service.outbox SET created_at = now() - interval '90 seconds' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	pub.Publish(ctx, ids)
	if err := pub.Flush(ctx); err != nil { // Publish returns before the batch ran
		t.Fatal(err)
	}

	s := scrape(t, m.Handler())
	if got := s.Value(t, "matching_events_published_total", "type=therapeutenanfrage.created"); got != 2 {
		t.Errorf("published created = %v, want 2", got)
	}
	if got := s.Value(t, "matching_events_publish_failed_total", "type=therapeutenanfrage.sent"); got != 1 {
		t.Errorf("failed sent = %v, want 1", got)
	}
	if got := s.Value(t, "matching_event_publish_duration_seconds", "count"); got != 3 {
		t.Errorf("publish attempts timed = %v, want 3", got)
	}
	if got := s.Value(t, "matching_outbox_backlog_events", ""); got != 1 {
		t.Errorf("backlog = %v, want 1", got)
	}
	if got := s.Value(t, "matching_outbox_oldest_unpublished_age_seconds", ""); got < 90 || got > 120 {
		t.Errorf("oldest unpublished age = %v s, want about 90", got)
	}
}

// refusingSink delivers every event except those of one type.
type refusingSink struct{ refuse string }

func (s *refusingSink) Send(_ context.Context, e cloudevents.Event) error {
	if e.Type() == s.refuse {
		return errors.New("sink: 503 Service Unavailable")
	}
	return nil
}

func (s *refusingSink) Close() error { return nil }

// with returns a copy of base with the entries of over.
func with(base, over map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func approx(got, want float64) bool {
	return cmp.Equal(got, want, cmpopts.EquateApprox(0, 1e-9))
}
