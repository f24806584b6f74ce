package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/outbox"
)

func TestPublish_sinkDownLeavesTheRowsAndTheRelayDeliversThemLaterInKeyOrder(t *testing.T) {
	t.Parallel()
	down := map[string]func(f *fakeSink){
		"sink answers 503": func(f *fakeSink) { f.status = http.StatusServiceUnavailable },
		"sink does not answer within the inline wait": func(f *fakeSink) { f.hang = true },
		"sink is closed": func(f *fakeSink) {
			f.srv.Listener.Close() // connection refused from now on
			f.srv.CloseClientConnections()
		},
	}
	for name, takeDown := range down {
		t.Run(name, func(t *testing.T) {
			const wait = 300 * time.Millisecond
			e := newEnv(t, outbox.WithInlineWait(wait), outbox.WithBatchSize(4))
			target := e.sink.srv.URL
			e.sink.set(takeDown)

			// 3 keys × 5 events, each committed by its own transaction and
			// published right after, interleaved across the keys.
			keys := []int{101, 102, 103}
			want := map[string][]string{}
			var all []string
			for n := range 5 {
				for _, k := range keys {
					ids := e.commit(t, statusChanged(k, fmt.Sprintf("step-%d", n)))
					start := time.Now()
					e.publish(t, ids)
					if took := time.Since(start); took > wait+2*time.Second {
						t.Fatalf("publishing took %v with the sink down, bound %v", took, wait)
					}
					want[fmt.Sprint(k)] = append(want[fmt.Sprint(k)], ids[0])
					all = append(all, ids[0])
				}
			}
			if n := e.unpublished(t); n != 15 {
				t.Fatalf("%d rows unpublished while the sink is down, want 15", n)
			}
			first := e.rows(t, want["101"][0])[0]
			if first.Published || first.Attempts != 1 || !first.LastError {
				t.Errorf("first row of a key after a failed publish = %+v, want one recorded failed attempt", first)
			}

			// The sink comes back (same URL).
			if name == "sink is closed" {
				e.sink.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.sink.serve))
				l, err := listenOn(target)
				if err != nil {
					t.Skipf("cannot listen on the old sink address again: %v", err)
				}
				e.sink.srv.Listener = l
				e.sink.srv.Start()
				t.Cleanup(e.sink.srv.Close)
			}
			e.sink.set(func(f *fakeSink) { f.status, f.hang = http.StatusAccepted, false })

			n, err := e.pub.Relay(context.Background())
			if err != nil || n != 15 {
				t.Fatalf("Relay = %d, %v; want 15, nil", n, err)
			}
			if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
				t.Errorf("events per key in arrival order (-creation order +got):\n%s", d)
			}
			for i, r := range e.rows(t, all...) {
				if !r.Published {
					t.Errorf("row %s not marked published", all[i])
				}
			}
			if n, err := e.pub.Relay(context.Background()); n != 0 || err != nil {
				t.Errorf("second Relay = %d, %v; want 0, nil", n, err)
			}
			if got := len(e.sink.events()); got != 15 {
				t.Errorf("sink received %d events in total, want 15", got)
			}
		})
	}
}

func TestRelay_givesUpOnAFailingKeyForTheRunAndDeliversTheOtherKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithBatchSize(2))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusServiceUnavailable })
	bad := e.commit(t, statusChanged(1, "a"), statusChanged(1, "b"), statusChanged(1, "c"))
	good := e.commit(t, statusChanged(2, "a"), statusChanged(3, "a"), statusChanged(2, "b"))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusAccepted; f.badKeys["1"] = http.StatusBadRequest })

	n, err := e.pub.Relay(context.Background())
	if n != 3 || err == nil {
		t.Fatalf("Relay = %d, %v; want 3 and an error reporting the undelivered event", n, err)
	}
	want := map[string][]string{"2": {good[0], good[2]}, "3": {good[1]}}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{false, 1, true}, {false, 0, false}, {false, 0, false}}, e.rows(t, bad...)); d != "" {
		t.Errorf("rows of the failing key (-want +got):\n%s", d)
	}

	// Next run, the sink accepts key 1 again.
	e.sink.set(func(f *fakeSink) { delete(f.badKeys, "1") })
	if n, err := e.pub.Relay(context.Background()); n != 3 || err != nil {
		t.Fatalf("second Relay = %d, %v; want 3, nil", n, err)
	}
	want["1"] = bad
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{true, 2, true}, {true, 1, false}, {true, 1, false}}, e.rows(t, bad...)); d != "" {
		t.Errorf("rows of the recovered key (-want +got):\n%s", d)
	}
}

func TestBacklog_countsUnpublishedRowsAndTheAgeOfTheOldest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if n, age, err := e.pub.Backlog(context.Background()); n != 0 || age != 0 || err != nil {
		t.Fatalf("empty outbox: Backlog = %d, %v, %v", n, age, err)
	}
	ids := e.commit(t, statusChanged(1, "a"), statusChanged(2, "a"), statusChanged(3, "a"))
	if _, err := e.pool.Exec(context.Background(),
		`UPDATE matching_service.outbox SET created_at = now() - interval '90 seconds' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	e.publish(t, ids[:1])
	n, age, err := e.pub.Backlog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || age < 90*time.Second || age > 120*time.Second {
		t.Errorf("Backlog = %d, %v; want 2 rows, oldest about 90s", n, age)
	}
}
