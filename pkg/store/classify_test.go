package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// TestClassify_givesEachSQLSTATEClassItsKind provokes one error of each class
// on a real PostgreSQL inside store.WithTx and checks the kind it comes back
// with, and that the message a caller sees says nothing of PostgreSQL's.
func TestClassify_givesEachSQLSTATEClassItsKind(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	mustExec(t, pool, `CREATE TABLE matching_service.classify_probe (id int PRIMARY KEY, t text)`)
	mustExec(t, pool, `CREATE INDEX ON matching_service.classify_probe (t)`)
	mustExec(t, pool, `INSERT INTO matching_service.classify_probe VALUES (1, 'x')`)

	exec := func(sql string, args ...any) func(context.Context, pgx.Tx) error {
		return func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		}
	}
	for name, tc := range map[string]struct {
		fn   func(context.Context, pgx.Tx) error
		kind fault.Kind
	}{
		"22021 NUL in text":           {exec(`SELECT $1::text`, "a\x00b"), fault.Invalid},
		"22003 integer out of range":  {exec(`SELECT 2147483648::bigint::int`), fault.Invalid},
		"22008 date out of range":     {exec(`SELECT '0000-01-01'::date`), fault.Invalid},
		"22P05 NUL escape in jsonb":   {exec(`SELECT '["\u0000"]'::jsonb`), fault.Invalid},
		"54000 index row too large":   {exec(`INSERT INTO matching_service.classify_probe SELECT 2, string_agg(md5(random()::text), '') FROM generate_series(1, 300)`), fault.Invalid},
		"23505 unique violation":      {exec(`INSERT INTO matching_service.classify_probe VALUES (1, 'y')`), fault.Conflict},
		"42P01 undefined table":       {exec(`SELECT * FROM matching_service.no_such_table`), fault.Defect},
		"42703 undefined column":      {exec(`SELECT no_such_column FROM matching_service.classify_probe`), fault.Defect},
		"21000 cardinality":           {exec(`SELECT (SELECT id FROM (VALUES (1), (2)) v(id))`), fault.Defect},
		"P0001 raise":                 {exec(`DO $$ BEGIN RAISE EXCEPTION 'no'; END $$`), fault.Defect},
		"40001 serialization failure": {exec(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'serialization_failure'; END $$`), fault.Unavailable},
		"40P01 deadlock":              {exec(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'deadlock_detected'; END $$`), fault.Unavailable},
		"57P01 admin shutdown":        {exec(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'admin_shutdown'; END $$`), fault.Unavailable},
		"53300 too many connections":  {exec(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'too_many_connections'; END $$`), fault.Unavailable},
		"08006 connection failure":    {exec(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'connection_failure'; END $$`), fault.Unavailable},
		"57014 statement timeout":     {exec(`SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)`), fault.Transient},
		"XX000 internal error":        {exec(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'internal_error'; END $$`), fault.Transient},
		"55P03 lock not available": {func(ctx context.Context, tx pgx.Tx) error {
			return lockHeldElsewhere(ctx, t, pool, tx)
		}, fault.Unavailable},
		"57014 by the caller's deadline": {func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT pg_sleep(5)`)
			return err
		}, fault.Unavailable},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			err := store.WithTx(ctx, pool, func(tx pgx.Tx) error { return tc.fn(ctx, tx) })
			if err == nil {
				t.Fatal("no error")
			}
			if got := fault.KindOf(err); got != tc.kind {
				t.Errorf("kind %s, want %s (error: %v)", got, tc.kind, err)
			}
			if fe := fault.As(err); fe != nil && strings.Contains(fe.Message, "SQLSTATE") {
				t.Errorf("the caller's message carries PostgreSQL's: %q", fe.Message)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		down, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", 1)
		if err != nil {
			t.Fatal(err)
		}
		defer down.Close()
		err = store.WithTx(ctx, down, func(pgx.Tx) error { return nil })
		if got := fault.KindOf(err); got != fault.Unavailable {
			t.Errorf("kind %s, want unavailable (error: %v)", got, err)
		}
	})
	t.Run("a kind given inside the transaction is kept", func(t *testing.T) {
		err := store.WithTx(ctx, pool, func(pgx.Tx) error { return fault.NotFoundf("no search 9") })
		if got := fault.KindOf(err); got != fault.NotFound {
			t.Errorf("kind %s, want not_found", got)
		}
	})
	t.Run("an unknown error stays unclassified", func(t *testing.T) {
		err := store.Classify(ctx, errors.New("boom"))
		if got := fault.KindOf(err); got != fault.Transient {
			t.Errorf("kind %s, want unclassified", got)
		}
	})
}

// lockHeldElsewhere holds the probe row's lock in another transaction and
// asks for it in tx with NOWAIT: 55P03.
func lockHeldElsewhere(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tx pgx.Tx) error {
	other, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(context.Background())
	if _, err := other.Exec(context.Background(), `SELECT 1 FROM matching_service.classify_probe WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM matching_service.classify_probe WHERE id = 1 FOR UPDATE NOWAIT`)
	return err
}

// Found by the fault campaign: after PostgreSQL restarted, a statement or
// commit on a connection pgx had already closed failed with "conn closed"
// (pgconn.ErrConnClosed, not marked safe to retry as the request may have
// been sent), which stayed unclassified: a 500 over HTTP, a bounded number
// of attempts in Kafka-direct mode. The database went away, so it is
// unavailable like a refused connection; retrying the whole transaction is
// safe (an ambiguous commit is caught by the inbox's dedupe or a claim).
func TestClassify_aConnectionClosedUnderneathIsUnavailable(t *testing.T) {
	err := store.Classify(context.Background(), fmt.Errorf("commit: %w", pgconn.ErrConnClosed))
	if k := fault.KindOf(err); k != fault.Unavailable {
		t.Fatalf("kind %v for %q, want %v", k, err, fault.Unavailable)
	}
}
