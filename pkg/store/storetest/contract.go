package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/contracts/asyncapitest"
)

// synthetic holds the tests that declared their outbox rows synthetic.
var synthetic sync.Map // testing.TB → true

// SyntheticEvents declares that tb writes outbox rows that are no events of
// matching's contract (payloads that only mark an order, to test the outbox's
// mechanics), so its database's outbox is not checked against the AsyncAPI
// document. Code under test that emits events must not be tested this way.
func SyntheticEvents(tb testing.TB) {
	synthetic.Store(tb, true)
}

// checkEvents validates every event the test left in its database's outbox
// against the AsyncAPI document, as the record the Kafka sink would produce
// from it (contracts/asyncapitest). Every event matching emits goes through
// the outbox, so this sees every event of every test that uses New: an event
// the document does not allow fails the test that emitted it. Benchmarks,
// which seed bulk rows to measure, and tests that declared SyntheticEvents
// are not checked.
func checkEvents(tb testing.TB, dbURL string) {
	tb.Helper()
	if _, bench := tb.(*testing.B); bench {
		return
	}
	if _, ok := synthetic.LoadAndDelete(tb); ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Errorf("storetest: read the outbox for the event contract: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id::text, event_type, partition_key, created_at, payload::text FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		tb.Errorf("storetest: read the outbox for the event contract: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, typ, key, payload string
		var created time.Time
		if err := rows.Scan(&id, &typ, &key, &created, &payload); err != nil {
			tb.Errorf("storetest: read the outbox: %v", err)
			return
		}
		r, err := asyncapitest.OutboxRecord(id, typ, key, created, []byte(payload))
		if err == nil {
			err = asyncapitest.Validate(r)
		}
		if err != nil {
			tb.Errorf("event contract (contracts/asyncapi.json): %v", err)
		}
	}
	if err := rows.Err(); err != nil {
		tb.Errorf("storetest: read the outbox: %v", err)
	}
}
