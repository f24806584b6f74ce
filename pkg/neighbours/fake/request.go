package fake

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// readBody reads a JSON object body; on failure it has answered 400.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, map[string]any, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, msg("Failed to read request body"))
		return nil, nil, false
	}
	m, err := decodeObject(raw)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, msg("The browser (or proxy) sent a request that this server could not understand."))
		return nil, nil, false
	}
	return raw, m, true
}

// pathID reads {id}; a non-integer id is a 404, as Flask's int converter makes it.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusNotFound, msg("The requested URL was not found on the server."))
		return 0, false
	}
	return id, true
}

// parseKnown converts the known fields of body; unknown keys are left alone.
// update skips null values, as the reference's PUT does. A non-nil statuses
// lists the valid values of "status".
func parseKnown(body map[string]any, fields []field, statuses []string, update bool) (map[string]any, string) {
	out := map[string]any{}
	for _, fd := range fields {
		v, present := body[fd.name]
		if !present || fd.kind == kStamp || (update && v == nil) {
			continue
		}
		cv, problem := convert(fd, v)
		if problem != "" {
			return nil, problem
		}
		out[fd.name] = cv
	}
	if s, ok := out["status"].(string); ok && statuses != nil && !contains(statuses, s) {
		return nil, fmt.Sprintf("Invalid status '%s'. Valid values: %s", s, pyList(statuses))
	}
	return out, ""
}

// arg is one reqparse argument of a communication-service endpoint.
type arg struct {
	name     string
	kind     kind
	required string // the help text when the argument is required
}

// args are parsed arguments: strings, bools, json.Number ints, or nil.
type args map[string]any

func (a args) str(k string) string {
	s, _ := a[k].(string)
	return s
}

func (a args) id(k string) int64 {
	i, _ := intValue(a[k])
	return i
}

// parseArgs parses body as the reference's reqparse does; the first problem
// comes back flattened as "field: message".
func parseArgs(body map[string]any, spec []arg) (args, string) {
	out := args{}
	for _, a := range spec {
		v, present := body[a.name]
		if a.required != "" && (!present || v == nil) {
			return nil, a.name + ": " + a.required
		}
		cv, problem := convert(field{name: a.name, kind: a.kind}, v)
		if problem != "" {
			return nil, problem
		}
		out[a.name] = cv
	}
	return out, ""
}

// intFilter reads an integer filter of a list; ok is false when the list is
// not filtered by key (the reference ignores 0 and non-integers).
func intFilter(q url.Values, key string) (int64, bool) {
	w, err := strconv.ParseInt(q.Get(key), 10, 64)
	if err != nil || w == 0 {
		return 0, false
	}
	return w, true
}

func matchesInt(q url.Values, key string, rec *record) bool {
	w, filtered := intFilter(q, key)
	if !filtered {
		return true
	}
	got, ok := rec.int(key)
	return ok && got == w
}

func matchesStr(q url.Values, key string, rec *record) bool {
	want := q.Get(key)
	return want == "" || rec.str(key) == want
}

// parseISODate accepts what Python's date.fromisoformat accepts for matching's
// purposes: YYYY-MM-DD, optionally followed by a time, which is dropped.
func parseISODate(s string) (string, error) {
	if len(s) >= 10 {
		if t, err := time.Parse("2006-01-02", s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", fmt.Errorf("invalid date %q", s)
}

// parseClock reads H:MM or HH:MM (seconds allowed) and returns HH:MM.
func parseClock(s string) (string, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("invalid time %q", s)
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return "", fmt.Errorf("invalid time %q", s)
	}
	return fmt.Sprintf("%02d:%02d", h, m), nil
}

// isoDateTime reports whether s parses as an ISO date or datetime.
func isoDateTime(s string) bool {
	s = strings.Replace(s, "Z", "+00:00", 1)
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05.999999-07:00", "2006-01-02 15:04:05"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}
