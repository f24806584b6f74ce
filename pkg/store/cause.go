package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Kinds of Cause.
const (
	// CauseEvent: a consumed event applied by a handler.
	CauseEvent = "event"
	// CauseAPI: a request to the anfrage API.
	CauseAPI = "api"
	// CauseJob: a run of a job (the follow-up job, the directory sync).
	CauseJob = "job"
	// CauseUnknown is what the history records for a change made outside
	// matching's code (psql); it is never set from Go.
	CauseUnknown = "unknown"
)

// Cause is why a transaction changes searches and anfragen: the history
// (migration 00030) records it with every change. Set the fields of its
// kind; the others stay empty and are left out of the record. It is
// comparable.
type Cause struct {
	Kind string `json:"kind"`

	// An event: its type, deduplication key and source, and the consumer
	// (consumer group) that applied it.
	Type      string `json:"type,omitempty"`
	DedupeKey string `json:"dedupe_key,omitempty"`
	Source    string `json:"source,omitempty"`
	Consumer  string `json:"consumer,omitempty"`
	// AfterCommit marks what an event's handler did once the event's own
	// transaction committed (the re-checks of unsent anfragen a changed
	// copy asks for): still the event's doing, but not re-done by a
	// replay, which applies it as recorded.
	AfterCommit bool `json:"after_commit,omitempty"`

	// An API request: its method, path and request id, and the name of the
	// bearer token it carried when authentication is on.
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Token     string `json:"token,omitempty"`

	// A job run: the job's name and the run's id.
	Job   string `json:"job,omitempty"`
	RunID string `json:"run_id,omitempty"`
}

// JSON is the cause as the history stores it. A NUL character, which
// PostgreSQL's jsonb cannot hold, becomes U+FFFD, so that no event id or
// path can make the recording fail.
func (c Cause) JSON() string {
	b, _ := json.Marshal(c) // a struct of strings always marshals
	return strings.ReplaceAll(string(b), `\u0000`, `\ufffd`)
}

// NewRunID is a new random id of a job run (16 hex digits), for a run's
// Cause and its log lines.
func NewRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

type causeKey struct{}

// WithCause returns ctx carrying c: every transaction WithTx begins with
// that context records c as the cause of its changes. The API puts the
// request's cause in the request's context, a job its run's.
func WithCause(ctx context.Context, c Cause) context.Context {
	return context.WithValue(ctx, causeKey{}, c)
}

// CauseFrom returns the cause ctx carries, if any.
func CauseFrom(ctx context.Context) (Cause, bool) {
	c, ok := ctx.Value(causeKey{}).(Cause)
	return c, ok
}

// causeSetting is the setting the history's triggers read
// (matching_service.history_cause).
const causeSetting = "matching.cause"

// SetCause makes c the cause of every change tx makes from now on, until it
// ends or SetCause is called again. Code that applies several causes in one
// transaction (the inbox's Apply for each consumed event, a batch of many)
// calls it before each one's statements; a transaction WithTx begins with a
// cause in its context has it from its first statement.
func SetCause(ctx context.Context, tx pgx.Tx, c Cause) error {
	if _, err := tx.Exec(ctx, setCause(c)); err != nil {
		return fmt.Errorf("set the cause of the transaction: %w", err)
	}
	return nil
}

// beginWithCause is the statement that begins a transaction with cause c:
// BEGIN and the setting in one round trip (the simple protocol runs both),
// so that recording the cause costs the transaction no round trip.
func beginWithCause(c Cause) string { return "BEGIN; " + setCause(c) }

// setCause is the statement that sets the cause: SET LOCAL, which ends with
// the transaction (a pooled connection never carries it into the next one)
// and, being a utility statement, is not planned as a SELECT set_config(…)
// would be. It takes no parameter, so the cause is an escape string literal
// (backslashes and quotes doubled, read the same whatever
// standard_conforming_strings says); its JSON holds no NUL.
func setCause(c Cause) string {
	return `SET LOCAL ` + causeSetting + ` = E'` + literal.Replace(c.JSON()) + `'`
}

// literal doubles what an escape string literal must double.
var literal = strings.NewReplacer(`\`, `\\`, `'`, `''`)
