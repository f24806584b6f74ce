package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/storable"
)

// Pagination of every list (reference-behaviour §4.0).
const (
	defaultLimit = 20
	maxLimit     = 1000
)

// args keeps the first error of a run of argument reads, so a handler reads
// all its arguments and checks once; the client sees the error of the first
// bad argument in the order the handler reads them. A read after an error
// returns the zero value.
type args struct{ failed error }

// fail records err unless an earlier read already failed.
func (a *args) fail(err error) {
	if a.failed == nil {
		a.failed = err
	}
}

// err is the first error of the reads so far, or nil.
func (a *args) err() error { return a.failed }

// body is a decoded JSON request body: the top-level keys and their raw values.
type body struct {
	args
	fields map[string]json.RawMessage
}

// readBody decodes the request's JSON object. An empty body is an empty
// object; malformed JSON is 400 "Invalid JSON body"; more than MaxBodyBytes
// is 413; a body that does not arrive before the server's read deadline
// (HTTP_READ_TIMEOUT) is 408. A body matching could not read unambiguously or PostgreSQL could
// not store (a key twice in an object, the NUL character, an unpaired
// surrogate, a number beyond numeric's range, bytes that are not UTF-8) is
// 400 naming the argument, whichever argument it is and whether or not the
// handler reads it: the check is made here, once, for every body. The error
// is the body's first (see args).
func readBody(r *http.Request) *body {
	b := &body{}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		b.fail(fault.ReadingBody(err, "1 MiB", "Invalid JSON body"))
		return b
	}
	if data = bytes.TrimSpace(data); len(data) > 0 {
		if err := json.Unmarshal(data, &b.fields); err != nil {
			b.fail(fault.Invalidf("Invalid JSON body").Wrap(err))
			return b
		}
		if err := storable.JSON(data); err != nil {
			b.fail(unstorable(err))
		}
	}
	return b
}

// unstorable is the 400 of a value storable refused: reqparse's shape,
// keyed by the argument, saying where inside it the value sits.
func unstorable(err error) error {
	var e *storable.Error
	if !errors.As(err, &e) || e.Field() == "" {
		return fault.Invalidf("Invalid JSON body: %v", err)
	}
	help := e.Reason
	if e.Path != e.Field() {
		help = e.Path + ": " + e.Reason
	}
	return argError(e.Field(), help)
}

// int4Help is the 400 of an integer argument beyond the integer columns.
func int4Help(v int64) string {
	return fmt.Sprintf("%d is out of range: must be between %d and %d", v, math.MinInt32, math.MaxInt32)
}

// present returns the raw value of name, or nil when it is absent or null
// (reqparse treats both as "not given").
func (b *body) present(name string) json.RawMessage {
	v, ok := b.fields[name]
	if !ok || string(v) == "null" {
		return nil
	}
	return v
}

// required is present for an argument that must be given: absence is
// reqparse's 400.
func (b *body) required(name string) json.RawMessage {
	v := b.present(name)
	if v == nil {
		b.fail(missingArg(name))
	}
	return v
}

// requiredInt reads a required int argument: a JSON integer or a string
// holding one, as Python's int() accepts, within the integer columns' range
// (every integer argument is an id or a count stored as one).
func (b *body) requiredInt(name string) int64 {
	v := b.required(name)
	if b.failed != nil {
		return 0
	}
	i, err := parseInt(name, v)
	if err == nil && !storable.Int4(i) {
		err = argError(name, int4Help(i))
	}
	b.fail(err)
	return i
}

func parseInt(name string, v json.RawMessage) (int64, error) {
	var n json.Number
	var s string
	switch {
	case json.Unmarshal(v, &n) == nil:
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return i, nil
		}
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return 0, argError(name, intLiteral(n.String()))
	case json.Unmarshal(v, &s) == nil:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, argError(name, intLiteral(s))
		}
		return i, nil
	}
	return 0, argError(name, intLiteral(string(v)))
}

// intLiteral is Python's int() error text.
func intLiteral(s string) string {
	return fmt.Sprintf("invalid literal for int() with base 10: '%s'", s)
}

// str reads an optional string argument; a number is taken as its text, as
// Python's str() would.
func (b *body) str(name string) *string {
	v := b.present(name)
	if v == nil || b.failed != nil {
		return nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return &s
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		s = n.String()
		return &s
	}
	b.fail(argError(name, "must be a string"))
	return nil
}

// requiredStr is str for an argument that must be given.
func (b *body) requiredStr(name string) string {
	b.required(name)
	if s := b.str(name); s != nil {
		return *s
	}
	return ""
}

// boolean reads a boolean argument: JSON true/false, 1/0, or the strings
// "true", "false", "1", "0" (any case). Unlike the reference, "false" is false.
func (b *body) boolean(name string, def bool) bool {
	v := b.present(name)
	if v == nil || b.failed != nil {
		return def
	}
	var x any
	_ = json.Unmarshal(v, &x)
	switch t := x.(type) {
	case bool:
		return t
	case float64:
		if t == 0 || t == 1 {
			return t == 1
		}
	case string:
		if p, ok := parseBool(t); ok {
			return p
		}
	}
	b.fail(argError(name, boolHelp(string(v))))
	return false
}

func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func boolHelp(v string) string {
	return fmt.Sprintf("Invalid boolean value %s; use true, false, 1 or 0", v)
}

// query reads a request's query parameters; its error is the first (see args).
type query struct {
	args
	url.Values
}

// readQuery reads the query string. A value that is not text PostgreSQL
// can store (the NUL character, bytes that are not UTF-8) is 400 naming the
// parameter, for every parameter of every endpoint, read or not.
func readQuery(r *http.Request) *query {
	q := &query{Values: r.URL.Query()}
	for _, name := range slices.Sorted(maps.Keys(q.Values)) {
		if err := storable.Text(name); err != nil {
			q.fail(fault.Invalidf("Invalid query parameter name: %v", err))
		}
		for _, v := range q.Values[name] {
			if err := storable.Text(v); err != nil {
				q.fail(argError(name, err.Error()))
			}
		}
	}
	return q
}

// integer reads an optional integer parameter; absent or empty is nil.
// Every integer parameter is compared with an integer column, so one beyond
// int4 is a 400 like one that is not an integer, never a database error.
func (q *query) integer(name string) *int64 {
	s := strings.TrimSpace(q.Get(name))
	if s == "" || q.failed != nil {
		return nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		q.fail(argError(name, intLiteral(q.Get(name))))
		return nil
	}
	if !storable.Int4(i) {
		q.fail(argError(name, int4Help(i)))
		return nil
	}
	return &i
}

// count is integer for counts compared with int columns.
func (q *query) count(name string) *int {
	v := q.integer(name)
	if v == nil {
		return nil
	}
	i := int(*v)
	return &i
}

// instant reads an optional RFC 3339 timestamp parameter (fractional
// seconds allowed, an offset required); absent or empty is nil.
func (q *query) instant(name string) *time.Time {
	s := strings.TrimSpace(q.Get(name))
	if s == "" || q.failed != nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail(argError(name, fmt.Sprintf("must be an RFC 3339 timestamp such as 2025-08-12T10:00:00Z, got '%s'", s)))
		return nil
	}
	return &t
}

// boolean reads an optional boolean parameter (true/false/1/0).
func (q *query) boolean(name string) *bool {
	s := q.Get(name)
	if strings.TrimSpace(s) == "" || q.failed != nil {
		return nil
	}
	v, ok := parseBool(s)
	if !ok {
		q.fail(argError(name, boolHelp("'"+s+"'")))
		return nil
	}
	return &v
}

// pagination reads page and limit as the reference does: defaults 1 and 20,
// a value that is not an integer falls back to the default, page is at
// least 1 and limit between 1 and 1000.
func (q *query) pagination() (page, limit int) {
	page, limit = 1, defaultLimit
	if v, err := strconv.Atoi(strings.TrimSpace(q.Get("page"))); err == nil {
		page = v
	}
	if v, err := strconv.Atoi(strings.TrimSpace(q.Get("limit"))); err == nil {
		limit = v
	}
	page = max(page, 1)
	limit = min(max(limit, 1), maxLimit)
	return page, limit
}

// offset is the row offset of a page, bounded so that a huge page number
// cannot overflow.
func offset(page, limit int) int {
	if page > math.MaxInt32/limit {
		return math.MaxInt32
	}
	return (page - 1) * limit
}

// pathID reads an integer path parameter; when it is not one the reference's
// <int:…> route does not match, and the error is its 404.
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errNoRoute
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id > math.MaxInt32 {
		return 0, errNoRoute
	}
	return id, nil
}
