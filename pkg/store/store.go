// Package store owns the PostgreSQL side of matching: the pgx pool, the one
// transaction helper, the embedded migrations and the SQL of searches,
// anfragen, inbox and outbox.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to url with at most maxConns connections and checks
// that the database answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL with its password; say less.
		return nil, errors.New("DATABASE_URL: not a valid PostgreSQL connection string")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// Fail fast while the database is down: callers map this to a 5xx and
	// the event is redelivered, rather than holding the request for minutes.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}

// Ping checks that the database answers within a second; the readiness
// probe uses it.
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return pool.Ping(ctx)
}

// WithTx runs fn in one transaction on pool: committed when fn returns nil,
// rolled back otherwise (also when fn panics). It is the only transaction
// helper of the service. When ctx carries a cause (WithCause), the
// transaction records it for the history before fn runs. Its error carries
// a fault kind when it is a database error Classify knows (fn's own kinds
// are kept).
func WithTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	var opts pgx.TxOptions
	if c, ok := CauseFrom(ctx); ok {
		opts.BeginQuery = beginWithCause(c)
	}
	return Classify(ctx, pgx.BeginTxFunc(ctx, pool, opts, fn))
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// optionally of the named constraint or index.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}
