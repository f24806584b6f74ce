package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// Migration 00007 on a database holding the previous schema with a backlog:
// every unpublished row gets its entity's ordering key from its type,
// published rows are left alone, and a row written by an instance of the
// previous version (which does not know the column) gets one on insert.
func TestMigrate_00007_ordersTheWaitingRowsByEntity(t *testing.T) {
	ctx := context.Background()
	pool, err := store.Open(ctx, storetest.Empty(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := store.MigrateUpTo(ctx, pool, 6); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `
		INSERT INTO matching_service.outbox (event_type, partition_key, payload, published_at) VALUES
		    ('therapeutenanfrage.sent', '2', '{}', NULL),
		    ('search.status_changed', '2', '{}', NULL),
		    ('cooling.period_started', '2', '{}', NULL),
		    ('some.future_type', '2', '{}', NULL),
		    ('search.status_changed', '3', '{}', now())`)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// The previous version's insert, during a rolling deployment.
	mustExec(t, pool, `INSERT INTO matching_service.outbox (event_type, partition_key, payload) VALUES ('therapeutenanfrage.created', '9', '{}')`)
	// The new version's, which names the key itself.
	mustExec(t, pool, `INSERT INTO matching_service.outbox (event_type, partition_key, ordering_key, payload) VALUES ('search.status_changed', '9', 'search:9', '{}')`)

	rows, err := pool.Query(ctx, `SELECT event_type || ' ' || partition_key || ' → ' || coalesce(ordering_key, 'NULL') FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		got = append(got, s)
	}
	want := []string{
		"therapeutenanfrage.sent 2 → anfrage:2",
		"search.status_changed 2 → search:2",
		"cooling.period_started 2 → therapist:2",
		"some.future_type 2 → 2",
		"search.status_changed 3 → NULL",
		"therapeutenanfrage.created 9 → anfrage:9",
		"search.status_changed 9 → search:9",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ordering keys (-want +got):\n%s", d)
	}
	var indexed bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('matching_service.idx_outbox_unpublished_order') IS NOT NULL AND to_regclass('matching_service.idx_outbox_unpublished_key') IS NULL`).Scan(&indexed); err != nil || !indexed {
		t.Errorf("the in-order index was not replaced (%v)", err)
	}
}
