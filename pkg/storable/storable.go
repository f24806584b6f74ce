// Package storable checks untrusted input against what matching can read
// unambiguously and PostgreSQL can store, so that a value the database would
// refuse is rejected once, when a request or an event is decoded, with a
// message naming the field — not by PostgreSQL in the middle of a
// transaction, as a 500 or a retried event.
//
// What PostgreSQL (UTF8 database) refuses:
//
//	text   the NUL character; bytes that are not UTF-8
//	jsonb  also the escape \u0000 and unpaired UTF-16 surrogates (\ud800);
//	       numbers beyond numeric's range (1e400000: more than 131072
//	       digits before the point or 16383 after it)
//	date   year 0 and dates outside 4713 BC–5874897 AD (the API reads
//	       YYYY-MM-DD, so: year 0)
//	int    (integer columns) values outside int4
//
// And what matching cannot read unambiguously: a JSON object with the same
// key twice (encoding/json would silently keep the last).
package storable

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a value that cannot be read or stored: Path locates it in a
// JSON document (`notizen`, `ausgeschlossene_therapeuten[0].r`; empty for a
// plain value) and Reason says why, in words a client can act on.
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Field is the top-level key of Path (the name of a request's argument).
func (e *Error) Field() string {
	if i := strings.IndexAny(e.Path, ".["); i >= 0 {
		return e.Path[:i]
	}
	return e.Path
}

// The reasons, one line each.
const (
	reasonNUL       = `contains the NUL character (\u0000), which cannot be stored`
	reasonUTF8      = "is not valid UTF-8"
	reasonSurrogate = `contains an unpaired UTF-16 surrogate (such as \ud800), which cannot be stored`
	reasonNumber    = "is a number too large or too precise to be stored"
	reasonYear      = "year must be between 1 and 9999"
)

// Text reports whether s can be stored in a text column: valid UTF-8
// without the NUL character.
func Text(s string) error {
	switch {
	case !utf8.ValidString(s):
		return &Error{Reason: reasonUTF8}
	case strings.IndexByte(s, 0) >= 0:
		return &Error{Reason: reasonNUL}
	}
	return nil
}

// Date reports whether t's date can be stored in a date column as the API
// reads dates (YYYY-MM-DD): its year is 1 to 9999.
func Date(t time.Time) error {
	if y := t.Year(); y < 1 || y > 9999 {
		return &Error{Reason: reasonYear}
	}
	return nil
}

// Int4 reports whether n fits an integer (int4) column.
func Int4(n int64) bool { return n >= math.MinInt32 && n <= math.MaxInt32 }

// JSON checks one JSON document (syntax already known to be valid): UTF-8,
// no key twice in an object, and every string and number storable as jsonb
// (so also as text). The error is an *Error naming the first offending
// value.
func JSON(data []byte) error { return walk(data, true) }

// UniqueKeys checks only that no object of the JSON document data has a key
// twice (and that the document is UTF-8), for input whose values are read
// field by field and checked where they are stored.
func UniqueKeys(data []byte) error { return walk(data, false) }

// frame is one open object or array of the walk.
type frame struct {
	array bool
	index int
	keys  map[string]bool
	// key is the object's key whose value comes next ("" between entries).
	key     string
	haveKey bool
}

// segment is the part of a path that names the value of f read next.
func (f *frame) segment(b *strings.Builder) {
	if f.array {
		b.WriteString("[" + strconv.Itoa(f.index) + "]")
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(f.key)
}

// pathOf is the path of the value the innermost of stack reads next. It is
// built only for an error: a path kept per open container would cost the
// square of the nesting depth (some 150 MB for the 10,000 levels
// encoding/json accepts, in a body of 20 KB; found by
// TestDecodeRecord_memoryGrowsWithTheInputOnly).
func pathOf(stack []*frame) string {
	var b strings.Builder
	for _, f := range stack {
		f.segment(&b)
	}
	return b.String()
}

// walk reads data token by token, keeping the position of each value. A
// string's raw text (between the previous token's end and its own) is
// scanned for the escapes encoding/json would silently turn into U+FFFD.
func walk(data []byte, storing bool) error {
	if !utf8.Valid(data) {
		return &Error{Reason: reasonUTF8}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	prev := int64(0)
	// valuePath is the path of the value token about to be read.
	valuePath := func() string { return pathOf(stack) }
	// done advances the enclosing container past one value.
	done := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.array {
			f.index++
		} else {
			f.haveKey, f.key = false, ""
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &Error{Reason: "is not valid JSON"}
		}
		end := dec.InputOffset()
		raw := data[prev:end]
		prev = end
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				f := &frame{array: t == '['}
				if !f.array {
					f.keys = map[string]bool{}
				}
				stack = append(stack, f)
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if top != nil && !top.array && !top.haveKey {
				top.key = t
				if top.keys[t] {
					return &Error{Path: valuePath(), Reason: "appears twice in its object"}
				}
				top.keys[t] = true
				top.haveKey = true
				if storing {
					if reason := stringReason(raw); reason != "" {
						return &Error{Path: valuePath(), Reason: "key " + reason}
					}
				}
				continue
			}
			if storing {
				if reason := stringReason(raw); reason != "" {
					return &Error{Path: valuePath(), Reason: reason}
				}
			}
			done()
		case json.Number:
			if storing && !numericFits(string(t)) {
				return &Error{Path: valuePath(), Reason: reasonNumber}
			}
			done()
		default: // bool, nil
			done()
		}
	}
}

// stringReason scans the raw text of one JSON string token (possibly with
// the separators before it) for what jsonb refuses: the \u0000 escape and
// unpaired surrogate escapes. Raw control characters cannot occur in a
// valid JSON string.
func stringReason(raw []byte) string {
	i := bytes.IndexByte(raw, '"')
	if i < 0 {
		return ""
	}
	s := raw[i+1:]
	pendingHigh := false
	for j := 0; j < len(s); j++ {
		if s[j] != '\\' {
			if pendingHigh {
				return reasonSurrogate
			}
			continue
		}
		j++
		if j >= len(s) {
			break
		}
		if s[j] != 'u' || j+4 >= len(s) {
			if pendingHigh {
				return reasonSurrogate
			}
			continue
		}
		v, err := strconv.ParseUint(string(s[j+1:j+5]), 16, 16)
		j += 4
		if err != nil {
			continue
		}
		switch {
		case v == 0:
			return reasonNUL
		case v >= 0xD800 && v <= 0xDBFF:
			if pendingHigh {
				return reasonSurrogate
			}
			pendingHigh = true
		case v >= 0xDC00 && v <= 0xDFFF:
			if !pendingHigh {
				return reasonSurrogate
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return reasonSurrogate
			}
		}
	}
	// The closing quote ends the scan above as a plain character, so a
	// high surrogate right before it has been reported already.
	return ""
}

// numericFits reports whether a JSON number fits PostgreSQL's numeric, which
// jsonb stores numbers as: at most 131072 digits before the decimal point
// and 16383 after it.
func numericFits(n string) bool {
	n = strings.TrimPrefix(n, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(n), "e")
	e := int64(0)
	if exp != "" {
		v, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || v > 1e9 || v < -1e9 {
			return false
		}
		e = v
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if int64(len(frac))-e > 16383 {
		return false
	}
	if digits := strings.TrimLeft(intPart, "0"); digits != "" {
		return int64(len(digits))-1+e <= 131071
	}
	if digits := strings.TrimLeft(frac, "0"); digits != "" {
		leading := int64(len(frac) - len(digits))
		return e-leading-1 <= 131071
	}
	return true // zero
}
