package store

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/curavani/matching/pkg/fault"
)

// The messages a caller sees for a database failure: they say what to do,
// never what PostgreSQL said (the log keeps the whole error).
const (
	msgUnstorable  = "A value cannot be stored (out of range or not valid text)"
	msgConflict    = "The change conflicts with the stored data"
	msgDefect      = "Internal server error"
	msgUnavailable = "Database temporarily unavailable; try again"
)

// sqlstates classifies a PostgreSQL error by its SQLSTATE: first the whole
// code, then its class (the first two characters). A code in neither is left
// unclassified (fault.Transient), which a Kafka-direct consumer retries a
// bounded number of times.
//
// Permanent for the event or request that caused them (retrying the same
// statement fails the same way):
//
//	22  data exception (a NUL byte, a value out of range, a bad date)  Invalid
//	54  program limit exceeded (an index row too large)               Invalid
//	23  integrity constraint violation                               Conflict
//	42  syntax error or access rule violation (undefined table,
//	    column or function, insufficient privilege)                  Defect
//	21  cardinality violation, 0A feature not supported,
//	    P0 PL/pgSQL raise                                            Defect
//
// Transient (the same statement may succeed later):
//
//	08     connection exception                                      Unavailable
//	40001  serialization failure, 40P01 deadlock detected,
//	40003  statement completion unknown                              Unavailable
//	53     insufficient resources (disk full, out of memory,
//	       too many connections)                                     Unavailable
//	55P03  lock not available, 55006 object in use                   Unavailable
//	57P01  admin shutdown, 57P02 crash shutdown,
//	57P03  cannot connect now                                        Unavailable
//	25006  read-only transaction (a failover to a standby)           Unavailable
//
// 57014 (query canceled) is transient when the caller's deadline or
// cancellation caused it (Classify's ctx has ended); a statement_timeout or
// pg_cancel_backend stays unclassified.
var sqlstates = map[string]fault.Kind{
	"22": fault.Invalid,
	"54": fault.Invalid,
	"23": fault.Conflict,
	"42": fault.Defect,
	"21": fault.Defect,
	"0A": fault.Defect,
	"P0": fault.Defect,

	"08":    fault.Unavailable,
	"40001": fault.Unavailable,
	"40P01": fault.Unavailable,
	"40003": fault.Unavailable,
	"53":    fault.Unavailable,
	"55P03": fault.Unavailable,
	"55006": fault.Unavailable,
	"57P01": fault.Unavailable,
	"57P02": fault.Unavailable,
	"57P03": fault.Unavailable,
	"25006": fault.Unavailable,
}

var messages = map[fault.Kind]string{
	fault.Invalid:     msgUnstorable,
	fault.Conflict:    msgConflict,
	fault.Defect:      msgDefect,
	fault.Unavailable: msgUnavailable,
}

// Classify gives a database error its fault kind: by SQLSTATE for an error
// PostgreSQL returned (see sqlstates), Unavailable for a connection that
// could not be made or was lost and for ctx's deadline or cancellation. An
// error that already carries a kind, and one Classify does not know, is
// returned as it is. The classified error keeps err as its cause (for the
// log) and shows the caller only a generic message. It is the one place
// where PostgreSQL's errors get their meaning: WithTx applies it to every
// transaction, and a caller answering a plain read applies it to that read's
// error.
func Classify(ctx context.Context, err error) error {
	if err == nil || fault.As(err) != nil {
		return err
	}
	kind, ok := classify(ctx, err)
	if !ok {
		return err
	}
	return &fault.Error{Kind: kind, Message: messages[kind], Err: err}
}

func classify(ctx context.Context, err error) (fault.Kind, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "57014" {
			return fault.Unavailable, ctx.Err() != nil
		}
		if k, ok := sqlstates[pgErr.Code]; ok {
			return k, true
		}
		if len(pgErr.Code) == 5 {
			k, ok := sqlstates[pgErr.Code[:2]]
			return k, ok
		}
		return 0, false
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		pgconn.Timeout(err), pgconn.SafeToRetry(err), errors.Is(err, pgconn.ErrConnClosed),
		errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fault.Unavailable, true
	}
	return 0, false
}
