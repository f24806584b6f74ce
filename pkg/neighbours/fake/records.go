package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// record is one stored JSON object. Numbers are json.Number, so ids and
// unknown values come back exactly as given.
type record struct {
	m    map[string]any
	body []byte // the encoded record, cached until the next change
}

func (r *record) set(k string, v any) {
	r.m[k] = v
	r.body = nil
}

func (r *record) json() []byte {
	if r.body == nil {
		b, err := json.Marshal(r.m)
		if err != nil {
			panic(fmt.Sprintf("fake: encode record: %v", err))
		}
		r.body = b
	}
	return r.body
}

// copy returns the record as a fresh map with plain JSON types.
func (r *record) copy() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.json(), &m)
	return m
}

func (r *record) str(k string) string {
	s, _ := r.m[k].(string)
	return s
}

func (r *record) int(k string) (int64, bool) { return intValue(r.m[k]) }

// sortedIDs returns the keys of m in ascending order.
func sortedIDs(m map[int64]*record) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// add stores v as a record of kind through put, which runs with f.mu held.
func (f *Fake) add(v any, kind string, put func(id int64, r *record), fields []field, stamp func(time.Time) string) int64 {
	m, err := toMap(v)
	if err != nil {
		panic(fmt.Sprintf("fake: Add %s: %v", kind, err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := intValue(m["id"])
	if id > 0 {
		if id > f.next[kind] {
			f.next[kind] = id
		}
	} else {
		f.next[kind]++
		id = f.next[kind]
	}
	m["id"] = json.Number(fmt.Sprint(id))
	fillDefaults(m, fields, stamp(f.now()))
	put(id, &record{m: m})
	return id
}

// into returns a put function for add that stores into m.
func into(m map[int64]*record) func(int64, *record) {
	return func(id int64, r *record) { m[id] = r }
}

func (f *Fake) get(from map[int64]*record, id int64) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := from[id]
	if !ok {
		return nil, false
	}
	return r.copy(), true
}

func (f *Fake) merge(into map[int64]*record, id int64, fields map[string]any) bool {
	m := map[string]any{}
	if len(fields) > 0 {
		var err error
		if m, err = toMap(fields); err != nil {
			panic(fmt.Sprintf("fake: merge: %v", err))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := into[id]
	if !ok {
		return false
	}
	for k, v := range m {
		if k != "id" {
			r.set(k, v)
		}
	}
	return true
}

// kind is how a reference service parses a field (flask-restful reqparse types).
type kind int

const (
	kString kind = iota // type=str: numbers become their text
	kBool               // type=bool: Python truthiness
	kInt                // type=int
	kDate               // YYYY-MM-DD, strict; "" clears
	kList               // a JSON array
	kObject             // a JSON object
	kAny                // stored as given
	kStamp              // created_at/updated_at: set by the service
)

type field struct {
	name string
	kind kind
	def  any // stored when the key is missing or null
}

// fillDefaults stores the default of every known field that is missing or
// null, and the creation stamp.
func fillDefaults(m map[string]any, fields []field, now string) {
	for _, f := range fields {
		if v, ok := m[f.name]; ok && v != nil {
			continue
		}
		switch {
		case f.kind == kStamp && f.name == "created_at":
			m[f.name] = now
		case f.def != nil:
			m[f.name] = cloneDefault(f.def)
		default:
			m[f.name] = nil
		}
	}
}

func cloneDefault(v any) any {
	if l, ok := v.([]any); ok {
		return append([]any{}, l...)
	}
	return v
}

// toMap turns v into a JSON object with json.Number numbers.
func toMap(v any) (map[string]any, error) {
	var raw []byte
	switch x := v.(type) {
	case []byte:
		raw = x
	case json.RawMessage:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	return decodeObject(raw)
}

// decodeObject decodes a JSON object, keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// intValue reads an integer from a JSON number (json.Number or float64).
func intValue(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) {
			return int64(f), true
		}
	case float64:
		if x == math.Trunc(x) {
			return int64(x), true
		}
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

// convert parses one field of a create or update body as reqparse would. It
// returns the value to store, or the 400 message.
func convert(f field, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	switch f.kind {
	case kString:
		switch x := v.(type) {
		case string:
			return x, ""
		case json.Number:
			return x.String(), ""
		case bool:
			return pyRepr(x), ""
		}
		return nil, fmt.Sprintf("%s: expected a string, got %s", f.name, pyRepr(v))
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, ""
		case string: // Python bool("false") is True
			return x != "", ""
		case json.Number:
			fv, _ := x.Float64()
			return fv != 0, ""
		}
		return nil, fmt.Sprintf("%s: expected a boolean, got %s", f.name, pyRepr(v))
	case kInt:
		if i, ok := intValue(v); ok {
			return json.Number(strconv.FormatInt(i, 10)), ""
		}
		if s, ok := v.(string); ok {
			if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return json.Number(strconv.FormatInt(i, 10)), ""
			}
		}
		return nil, fmt.Sprintf("%s: invalid literal for int() with base 10: %s", f.name, pyRepr(v))
	case kDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("Invalid date format for %s. Use YYYY-MM-DD", f.name)
		}
		if s == "" {
			return nil, ""
		}
		if !strictDate(s) {
			return nil, fmt.Sprintf("Invalid date format for %s. Use YYYY-MM-DD", f.name)
		}
		return s, ""
	case kList:
		if _, ok := v.([]any); !ok {
			return nil, fmt.Sprintf("%s: expected a list, got %s", f.name, pyRepr(v))
		}
	case kObject:
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Sprintf("%s: expected an object, got %s", f.name, pyRepr(v))
		}
	}
	return v, ""
}

// strictDate reports whether s is a valid date written YYYY-MM-DD, as
// Python's strptime(s, '%Y-%m-%d') with four-digit years accepts it.
func strictDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// pyRepr is how Python's str() shows a JSON value in an error message.
func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// pyList formats values as Python prints a list of strings: ['a', 'b'].
func pyList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func contains(vals []string, v string) bool {
	for _, x := range vals {
		if x == v {
			return true
		}
	}
	return false
}

// isoStamp formats t as the reference's naive-UTC ISO datetime; like Python's
// isoformat it drops a zero fraction.
func isoStamp(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// dateStamp formats t as the patient and therapist services serialise their
// created_at and updated_at (a DateField: the date only).
func dateStamp(t time.Time) string { return t.UTC().Format("2006-01-02") }

// rfc822 formats t as flask-restful's fields.DateTime does.
func rfc822(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0000") }
