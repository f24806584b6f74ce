package devstack

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/localpg"
)

// startDatabase finds the server, makes sure the database exists, applies
// the migrations and resets the tables if asked.
func (s *Stack) startDatabase(ctx context.Context) error {
	s.DatabaseURL, s.DatabaseOrigin = s.opts.DatabaseURL, "given"
	if s.DatabaseURL == "" {
		srv, err := localpg.Find(ctx)
		if err != nil {
			return err
		}
		s.pg = srv
		s.DatabaseOrigin = srv.Origin
		if s.DatabaseURL, err = localpg.EnsureDatabase(ctx, srv.URL, DevDatabase); err != nil {
			return err
		}
	}
	pool, err := store.Open(ctx, s.DatabaseURL, 4)
	if err != nil {
		return err
	}
	s.pool = pool
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	if s.opts.Reset {
		return resetTables(ctx, pool)
	}
	return nil
}

// resetTables empties every table of matching's schema and restarts its
// identities, so the demo data gets the same ids on every start. The
// migrations' own bookkeeping (in public) is kept.
func resetTables(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `
		DO $$
		DECLARE tables text;
		BEGIN
		    SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables
		    FROM pg_tables WHERE schemaname = 'matching_service';
		    IF tables IS NOT NULL THEN
		        EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY';
		    END IF;
		END
		$$`)
	if err != nil {
		return fmt.Errorf("reset the demo database: %w", err)
	}
	return nil
}
