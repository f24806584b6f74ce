// Package inbox processes consumed events exactly once in effect: it records
// each event's deduplication key in processed_events in the same transaction
// as the event's effects and its outbox rows, and publishes those rows after
// commit. A route that must read another service first is split in two
// (Prepare, then Step.Apply), so that no transaction spans a remote call.
// The processed_events row also logs the event with its payload (the event
// log of the history), and the transaction makes the event the cause of the
// changes it makes.
package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// Func applies one event type inside tx and returns the events to emit. A
// fault.Invalid error rejects the event (nothing is committed); any other
// error is transient. It takes every timestamp it writes from in.At.
type Func func(ctx context.Context, tx pgx.Tx, ev events.Inbound) ([]events.Outgoing, error)

// Prepare is the first half of a route that must read another service
// (no transaction may span a remote call): it runs before the event's
// transaction, does the remote reads and returns the Step that applies the
// event with what it read. An error is treated as a route's error (a
// fault.Invalid rejects the event, anything else is transient).
type Prepare func(ctx context.Context, in events.Inbound) (Step, error)

// Step is a prepared event: Apply runs inside the transaction, after the
// dedupe check, exactly as a Func; After, if set, runs once that
// transaction committed (for work the transaction queued, such as the
// re-checks a changed copy asks for), with the event as the cause of what
// it changes. After cannot fail the event: its effects are committed.
type Step struct {
	Apply Func
	After func(ctx context.Context)
}

// Publisher publishes committed outbox rows; *outbox.Publisher implements it.
type Publisher interface {
	Publish(ctx context.Context, ids []string)
}

// Processor is the CloudEvents handler of one consumer (one function).
type Processor struct {
	// Consumer names this consumer in processed_events; keep it stable.
	Consumer string
	Pool     *pgxpool.Pool
	// Publisher, if set, publishes the outbox rows right after commit.
	Publisher Publisher
	// Routes maps canonical event types to their effect. Every other type is
	// acknowledged and reported as events.Ignored.
	Routes map[string]Func
	// Prepared maps canonical event types whose effect needs a remote read
	// first to their Prepare. A type is in Routes or in Prepared. A
	// redelivered event is recognised before Prepare runs, so it costs no
	// remote call; the dedupe key is still claimed in the transaction,
	// which alone decides.
	Prepared map[string]Prepare
	// Pipelined maps event types of Routes to the form of their route a
	// batch uses instead (ProcessBatch): the same statements with the same
	// result, sent together with the other events' in one round trip.
	Pipelined map[string]Queued
}

// Queued is the pipelined form of a Func: it queues the event's statements
// on b and returns how to read their results (in the order queued) into
// the events to emit; nothing runs until the batch is sent. An error from
// either rejects or fails the event as the Func's would.
type Queued func(b *pgx.Batch, in events.Inbound) (read func(pgx.BatchResults) ([]events.Outgoing, error), err error)

// Handle decodes e, stamps it with the time it is applied (events.Inbound.At)
// and processes it (Process). It returns the outcome and, for Rejected and
// Failed, the error.
func (p *Processor) Handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	in.At = time.Now().UTC().Truncate(time.Microsecond)
	outcome, err := p.Process(ctx, in)
	return in, outcome, err
}

// Process applies a decoded event unless its dedupe key was processed
// before: a Prepared route does its remote reads first (Prepare), then the
// event is applied in a transaction of its own (Apply) together with the
// processed_events row and the outbox rows, its events are published after
// commit and the step's After runs. The replay hands it recorded events.
func (p *Processor) Process(ctx context.Context, in events.Inbound) (events.Outcome, error) {
	step, outcome, err := p.Prepare(ctx, in)
	if step.Apply == nil {
		return outcome, err
	}
	// The transaction begins with the event as its cause; Apply sees that
	// in ctx and does not set it again. After runs with it too, marked as
	// after the commit: what it changes is the event's doing.
	ctx = store.WithCause(ctx, p.cause(in))
	var ids []string
	err = store.WithTx(ctx, p.Pool, func(tx pgx.Tx) error {
		var err error
		ids, outcome, err = p.Apply(ctx, tx, in, step)
		return err
	})
	if err != nil {
		if fault.Permanent(err) {
			return events.Rejected, err
		}
		return events.Failed, err
	}
	if p.Publisher != nil && len(ids) > 0 {
		p.Publisher.Publish(ctx, ids)
	}
	if outcome == events.Processed && step.After != nil {
		after := p.cause(in)
		after.AfterCommit = true
		step.After(store.WithCause(ctx, after))
	}
	return outcome, nil
}

// Prepare finds the step that applies in: a Func of Routes as it is, or the
// Step a Prepared route returns after its remote reads. Without a route the
// outcome is Ignored; an event processed before is a Duplicate found
// without calling a Prepared route; a failing one is Rejected or Failed.
// Otherwise the outcome is Processed, with step.Apply set. It runs before
// the event's transaction.
func (p *Processor) Prepare(ctx context.Context, in events.Inbound) (Step, events.Outcome, error) {
	if route, ok := p.Routes[in.Type]; ok {
		return Step{Apply: route}, events.Processed, nil
	}
	prep, ok := p.Prepared[in.Type]
	if !ok {
		return Step{}, events.Ignored, nil
	}
	var seen bool
	if err := p.Pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM matching_service.processed_events WHERE consumer = $1 AND dedupe_key = $2)`,
		p.Consumer, in.DedupeKey).Scan(&seen); err != nil {
		return Step{}, events.Failed, store.Classify(ctx, fmt.Errorf("inbox: look up %s: %w", in.DedupeKey, err))
	}
	if seen {
		return Step{}, events.Duplicate, nil
	}
	step, err := prep(ctx, in)
	// A route's own reads of the database (is the patient in the copy?)
	// fail as the database does: unavailable while it is down, retried
	// until it is back rather than a bounded number of times. An error
	// that already has its kind (a neighbour's answer) keeps it.
	err = store.Classify(ctx, err)
	switch {
	case err != nil && fault.Permanent(err):
		return Step{}, events.Rejected, err
	case err != nil:
		return Step{}, events.Failed, err
	case step.Apply == nil:
		// Prepare found nothing to do (the event is about someone matching
		// keeps no record of).
		return Step{}, events.Ignored, nil
	}
	return step, events.Processed, nil
}

// Apply applies a prepared event inside tx: it makes the event the cause
// of the changes that follow (store.SetCause; unless ctx carries that
// cause, which means tx began with it), claims its deduplication key in
// processed_events and logs it with its payload, runs step.Apply and writes
// the events it returns to the outbox. It returns their outbox ids, and
// Duplicate (nothing applied) when the key was processed before.
//
// Apply is also the per-event step for code that applies several events in
// one transaction its own way: Prepare each before the transaction, Apply
// each in it, in order (each event's changes are attributed to that event),
// then run the steps' After once it committed. ProcessBatch does the same
// with one claim and one outbox insert for the whole batch.
func (p *Processor) Apply(ctx context.Context, tx pgx.Tx, in events.Inbound, step Step) ([]string, events.Outcome, error) {
	if in.At.IsZero() {
		in.At = time.Now().UTC().Truncate(time.Microsecond)
	}
	if c := p.cause(in); !hasCause(ctx, c) {
		if err := store.SetCause(ctx, tx, c); err != nil {
			return nil, events.Failed, err
		}
	}
	// The insert into processed_events both claims the key and, under
	// concurrent delivery of the same event, makes the second transaction
	// wait for the first and then see the conflict: exactly one applies
	// the effects. The row is also the event's entry in the event log (its
	// payload, source, handling time, the entities it names), until the
	// retention moves it to event_log.
	ids := payloadIDs(in.Payload)
	tag, err := tx.Exec(ctx, `
		INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type, event_id, source,
			partition_key, handled_at, payload, platzsuche_id, anfrage_id, patient_id, therapist_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		p.Consumer, in.DedupeKey, in.Type, text(in.ID), text(in.Source), text(in.Key), in.At,
		text(string(in.Payload)), ids[0], ids[1], ids[2], ids[3])
	if err != nil {
		return nil, events.Failed, fmt.Errorf("inbox: record %s: %w", in.DedupeKey, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, events.Duplicate, nil
	}
	out, err := step.Apply(ctx, tx, in)
	if err != nil {
		return nil, events.Failed, err
	}
	outIDs, err := outbox.Add(ctx, tx, out...)
	if err != nil {
		return nil, events.Failed, err
	}
	return outIDs, events.Processed, nil
}

// cause is what the history records as the cause of in's changes.
func (p *Processor) cause(in events.Inbound) store.Cause {
	return store.Cause{Kind: store.CauseEvent, Type: in.Type, DedupeKey: in.DedupeKey, Source: in.Source, Consumer: p.Consumer}
}

func hasCause(ctx context.Context, c store.Cause) bool {
	got, ok := store.CauseFrom(ctx)
	return ok && got == c
}

// payloadIDs reads the entities a payload names, for the event log: the
// search (search_id or platzsuche_id), anfrage, patient and therapist, each
// a JSON number or a string of digits that fits an integer column, else nil.
// The emitted events' log reads the same keys (matching_service.json_id); a
// consumed payload is read here because PostgreSQL's jsonb may refuse it.
func payloadIDs(payload json.RawMessage) [4]*int32 {
	var f struct {
		SearchID     json.RawMessage `json:"search_id"`
		PlatzsucheID json.RawMessage `json:"platzsuche_id"`
		AnfrageID    json.RawMessage `json:"anfrage_id"`
		PatientID    json.RawMessage `json:"patient_id"`
		TherapistID  json.RawMessage `json:"therapist_id"`
	}
	_ = json.Unmarshal(payload, &f) // the payload was decoded before; a bad one names nothing
	search := id(f.SearchID)
	if search == nil {
		search = id(f.PlatzsucheID)
	}
	return [4]*int32{search, id(f.AnfrageID), id(f.PatientID), id(f.TherapistID)}
}

func id(raw json.RawMessage) *int32 {
	s := strings.Trim(string(raw), `"`)
	if s == "" || len(s) > 9 || strings.TrimLeft(s, "0123456789") != "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return nil
	}
	v := int32(n)
	return &v
}

// text is s as a PostgreSQL text value can hold it: invalid UTF-8 and NUL
// become U+FFFD. The log keeps what it can of a malformed id or payload
// instead of failing the event it records.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
