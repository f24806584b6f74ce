package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/curavani/matching/pkg/fault"
)

// Pagination of every list (reference-behaviour §4.0).
const (
	defaultLimit = 20
	maxLimit     = 1000
)

// body is a decoded JSON request body: the top-level keys and their raw values.
type body map[string]json.RawMessage

// readBody decodes the request's JSON object. An empty body is an empty
// object; malformed JSON is 400 "Invalid JSON body"; more than MaxBodyBytes
// is 413.
func readBody(r *http.Request) (body, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &fault.Error{Kind: fault.TooLarge, Message: "Request body too large (limit 1 MiB)", Err: err}
		}
		return nil, fault.Invalidf("Invalid JSON body").Wrap(err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return body{}, nil
	}
	var b body
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fault.Invalidf("Invalid JSON body").Wrap(err)
	}
	if b == nil {
		b = body{}
	}
	return b, nil
}

// present returns the raw value of name, or nil when it is absent or null
// (reqparse treats both as "not given").
func (b body) present(name string) json.RawMessage {
	v, ok := b[name]
	if !ok || string(v) == "null" {
		return nil
	}
	return v
}

// integer reads an int argument: a JSON integer or a string holding one, as
// Python's int() accepts. required makes absence a reqparse 400.
func (b body) integer(name string, required bool) (*int64, error) {
	v := b.present(name)
	if v == nil {
		if required {
			return nil, missingArg(name)
		}
		return nil, nil
	}
	var n json.Number
	var s string
	switch {
	case json.Unmarshal(v, &n) == nil:
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return &i, nil
		}
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			i := int64(f)
			return &i, nil
		}
		return nil, argError(name, intLiteral(n.String()))
	case json.Unmarshal(v, &s) == nil:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, argError(name, intLiteral(s))
		}
		return &i, nil
	}
	return nil, argError(name, intLiteral(string(v)))
}

// intLiteral is Python's int() error text.
func intLiteral(s string) string {
	return fmt.Sprintf("invalid literal for int() with base 10: '%s'", s)
}

// str reads an optional string argument; a number is taken as its text, as
// Python's str() would.
func (b body) str(name string) (*string, error) {
	v := b.present(name)
	if v == nil {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return &s, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		s = n.String()
		return &s, nil
	}
	return nil, argError(name, "must be a string")
}

// boolean reads a boolean argument: JSON true/false, 1/0, or the strings
// "true", "false", "1", "0" (any case). Unlike the reference, "false" is false.
func (b body) boolean(name string, def bool) (bool, error) {
	v := b.present(name)
	if v == nil {
		return def, nil
	}
	var x any
	_ = json.Unmarshal(v, &x)
	switch t := x.(type) {
	case bool:
		return t, nil
	case float64:
		if t == 0 || t == 1 {
			return t == 1, nil
		}
	case string:
		if p, ok := parseBool(t); ok {
			return p, nil
		}
	}
	return false, argError(name, boolHelp(string(v)))
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

// queryInt reads an optional integer query parameter; absent or empty is nil.
func queryInt(q url.Values, name string) (*int64, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return nil, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, argError(name, intLiteral(q.Get(name)))
	}
	return &i, nil
}

// queryIntAsInt is queryInt for counts compared with int columns.
func queryIntAsInt(q url.Values, name string) (*int, error) {
	v, err := queryInt(q, name)
	if v == nil || err != nil {
		return nil, err
	}
	if *v > math.MaxInt32 || *v < math.MinInt32 {
		return nil, argError(name, intLiteral(q.Get(name)))
	}
	i := int(*v)
	return &i, nil
}

// queryBool reads an optional boolean query parameter (true/false/1/0).
func queryBool(q url.Values, name string) (*bool, error) {
	s := q.Get(name)
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, ok := parseBool(s)
	if !ok {
		return nil, argError(name, boolHelp("'"+s+"'"))
	}
	return &v, nil
}

// pagination reads page and limit as the reference does: defaults 1 and 20,
// a value that is not an integer falls back to the default, page is at
// least 1 and limit between 1 and 1000.
func pagination(q url.Values) (page, limit int) {
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

// pathID reads an integer path parameter; false when it is not one (the
// reference's <int:…> route then does not match: 404).
func pathID(r *http.Request, name string) (int64, bool) {
	s := r.PathValue(name)
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id <= math.MaxInt32
}
