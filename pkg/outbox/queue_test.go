package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/outbox"
)

func TestPublish_returnsBeforeTheSinkAnswersAndTheBatchDeliversAfterwards(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	ids := e.commit(t, statusChanged(1, "abgebrochen"))

	e.pub.Publish(context.Background(), ids)
	// Publish returned while the sink has not answered: the request that
	// wrote the row is not held by the sink.
	if n := e.unpublished(t); n != 1 {
		t.Fatalf("%d rows unpublished before the sink answered, want 1", n)
	}
	close(gate)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ids, e.sink.ids()); d != "" {
		t.Errorf("sink received (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{true, 1, false}}, e.rows(t, ids...)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
}

func TestPublish_callsMadeWhileABatchIsInFlightArePublishedTogetherInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	first := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), first)
	e.sink.waitHeld(t, 1) // the first batch is sending

	// Four more calls, two of them for the key of the batch in flight and
	// one for a key of their own with two rows.
	var later []string
	for _, ev := range []events.Outgoing{statusChanged(2, "a"), statusChanged(1, "b"), statusChanged(3, "a")} {
		ids := e.commit(t, ev)
		e.pub.Publish(context.Background(), ids)
		later = append(later, ids...)
	}
	two := e.commit(t, statusChanged(4, "a"), statusChanged(4, "b"))
	e.pub.Publish(context.Background(), two)
	later = append(later, two...)
	close(gate)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	want := map[string][]string{"1": {first[0], later[1]}, "2": {later[0]}, "3": {later[2]}, "4": two}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	// One transaction marked all of the later calls' rows: they share its
	// timestamp, which the first batch's does not.
	var stamps []time.Time
	for _, id := range append(first, later...) {
		var at time.Time
		if err := e.pool.QueryRow(context.Background(),
			`SELECT published_at FROM matching_service.outbox WHERE id = $1`, id).Scan(&at); err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, at)
	}
	for i, at := range stamps[2:] {
		if !at.Equal(stamps[1]) {
			t.Errorf("row %d of the second batch published at %v, row 1 at %v: not one batch", i+2, at, stamps[1])
		}
	}
	if stamps[0].Equal(stamps[1]) {
		t.Errorf("the first batch and the second share the timestamp %v", stamps[0])
	}
}

func TestPublish_whenTheQueueIsFullLeavesTheRowsToTheRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithQueueLimit(2))
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	inFlight := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), inFlight)
	e.sink.waitHeld(t, 1)
	queued := e.commit(t, statusChanged(2, "a"), statusChanged(3, "a"))
	e.pub.Publish(context.Background(), queued)
	overflow := e.commit(t, statusChanged(4, "a"))
	e.pub.Publish(context.Background(), overflow)
	close(gate)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	if d := cmp.Diff([]outboxRow{{true, 1, false}, {true, 1, false}, {true, 1, false}, {false, 0, false}},
		e.rows(t, append(append(inFlight, queued...), overflow...)...)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
	if !strings.Contains(e.logs.String(), `"msg":"outbox: publish queue full; the relay will deliver","events":1`) {
		t.Errorf("no warning of the full queue:\n%s", e.logs.String())
	}
	if n, err := e.pub.Relay(context.Background()); n != 1 || err != nil {
		t.Fatalf("Relay = %d, %v; want 1, nil", n, err)
	}
}

func TestClose_publishesWhatIsQueuedAndLeavesLaterCallsToTheRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	first := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), first)
	e.sink.waitHeld(t, 1)
	queued := e.commit(t, statusChanged(2, "a"))
	e.pub.Publish(context.Background(), queued)

	closed := make(chan error, 1)
	go func() { closed <- e.pub.Close(context.Background()) }()
	close(gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if d := cmp.Diff(append(first, queued...), e.sink.ids()); d != "" {
		t.Errorf("delivered by the time Close returned (-want +got):\n%s", d)
	}

	after := e.commit(t, statusChanged(3, "a"))
	e.pub.Publish(context.Background(), after)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]outboxRow{{false, 0, false}}, e.rows(t, after...)); d != "" {
		t.Errorf("row published after Close (-want +got):\n%s", d)
	}
	if n, err := e.pub.Relay(context.Background()); n != 1 || err != nil {
		t.Fatalf("Relay = %d, %v; want 1, nil", n, err)
	}
}

func TestClose_withASinkThatDoesNotAnswerReturnsWhenItsContextEndsAndLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithInlineWait(500*time.Millisecond))
	e.sink.set(func(f *fakeSink) { f.hang = true })
	ids := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), ids)
	more := e.commit(t, statusChanged(1, "b"), statusChanged(2, "a"))
	e.pub.Publish(context.Background(), more)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.pub.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the context's deadline", err)
	}
	// The batch in flight ends by the inline wait; the rest was either
	// tried and failed or not tried: all of it waits in the outbox.
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.unpublished(t); n != 3 {
		t.Fatalf("%d rows unpublished, want 3", n)
	}
	e.sink.set(func(f *fakeSink) { f.hang = false })
	if n, err := e.pub.Relay(context.Background()); n != 3 || err != nil {
		t.Fatalf("Relay = %d, %v; want 3, nil", n, err)
	}
	want := map[string][]string{"1": {ids[0], more[0]}, "2": {more[1]}}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
}

func TestPublish_ofACallLargerThanABatchDeliversEveryRowInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evs := make([]events.Outgoing, 2500)
	for i := range evs {
		evs[i] = statusChanged(i%7, fmt.Sprint(i))
	}
	ids := e.commit(t, evs...)
	e.publish(t, ids)
	want := map[string][]string{}
	for i, id := range ids {
		k := fmt.Sprint(i % 7)
		want[k] = append(want[k], id)
	}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	if n := e.unpublished(t); n != 0 {
		t.Errorf("%d rows left unpublished", n)
	}
}
