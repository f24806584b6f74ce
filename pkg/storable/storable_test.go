package storable_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/storable"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestJSON_agreesWithPostgreSQL hands documents to PostgreSQL as jsonb: it
// must refuse exactly those storable.JSON refuses (duplicate keys aside,
// which jsonb takes, keeping the last).
func TestJSON_agreesWithPostgreSQL(t *testing.T) {
	pool, _ := storetest.New(t)
	for _, doc := range []string{
		`{"s":"\u0001 \t \" \\u0000 \u00e4 \ud83d\ude00"}`,
		`[1e131071,123.456e131069,1e-16383,0e1000000000,-0.0e5,1E+5,0.001e131074]`,
		`{"s":"a\u0000b"}`, `["\ud800"]`, `["\ud800x"]`, `["x\udc00"]`, `["\ud800\ud800\udc00"]`,
		`[1e131072]`, `[0.001e131075]`, `[1.5e-16383]`, `[1e-16384]`, `[0.0e-999999]`, `[0e2000000000]`,
	} {
		var pgErr error
		_, pgErr = pool.Exec(context.Background(), `SELECT $1::text::jsonb`, doc)
		ours := storable.JSON([]byte(doc))
		if (pgErr == nil) != (ours == nil) {
			t.Errorf("%s: PostgreSQL says %v, storable.JSON says %v", doc, pgErr, ours)
		}
	}
}

// TestJSON_findsWhatPostgreSQLRefusesAndNamesWhere covers each class of
// value jsonb or text refuses, at the top level and nested, and the
// duplicate key; and what must pass (escapes PostgreSQL takes, pairs of
// surrogates, the edges of numeric's range).
func TestJSON_findsWhatPostgreSQLRefusesAndNamesWhere(t *testing.T) {
	for name, tc := range map[string]struct {
		doc      string
		path     string // "" = accepted
		field    string
		contains string
	}{
		"plain object":                {doc: `{"notizen":"a b","n":[1,2.5,-3e10],"o":{"x":null,"y":true}}`},
		"escapes PostgreSQL takes":    {doc: `{"s":"\u0001 \t \" \\u0000 \u00e4 \ud83d\ude00"}`},
		"numeric's largest":           {doc: `{"n":[1e131071,123.456e131069,1e-16383,0e1000000000,-0.0e5,1E+5]}`},
		"NUL escape":                  {doc: `{"notizen":"a\u0000b"}`, path: "notizen", field: "notizen", contains: "NUL"},
		"NUL escape nested":           {doc: `{"ausgeschlossene_therapeuten":[{"id":1,"r":"\u0000"}]}`, path: "ausgeschlossene_therapeuten[0].r", field: "ausgeschlossene_therapeuten", contains: "NUL"},
		"NUL in a key":                {doc: `{"a\u0000":1}`, path: "a\x00", contains: "key contains the NUL"},
		"lone high surrogate":         {doc: `{"ausgeschlossene_therapeuten":[{"id":1,"r":"\ud800"}]}`, path: "ausgeschlossene_therapeuten[0].r", contains: "surrogate"},
		"high surrogate then letter":  {doc: `{"s":"\ud800x"}`, path: "s", contains: "surrogate"},
		"lone low surrogate":          {doc: `{"s":"x\udc00"}`, path: "s", contains: "surrogate"},
		"two high surrogates":         {doc: `{"s":"\ud800\ud800\udc00"}`, path: "s", contains: "surrogate"},
		"huge exponent":               {doc: `{"a":{"b":[0,1e400000]}}`, path: "a.b[1]", field: "a", contains: "too large"},
		"too many decimals":           {doc: `{"n":1.5e-16383}`, path: "n", contains: "too large or too precise"},
		"exponent beyond any numeric": {doc: `{"n":0e2000000000}`, path: "n"},
		"duplicate key":               {doc: `{"patient_responses":{"1":"angenommen","1":"abgelehnt_Kapazitaet"}}`, path: "patient_responses.1", field: "patient_responses", contains: "twice"},
		"duplicate top-level key":     {doc: `{"notizen":"a","notizen":"b"}`, path: "notizen", contains: "twice"},
		"same key in two objects":     {doc: `[{"id":1},{"id":2}]`},
		"not UTF-8":                   {doc: "{\"s\":\"\xff\"}", contains: "UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			err := storable.JSON([]byte(tc.doc))
			if tc.path == "" && tc.contains == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := err.(*storable.Error)
			if !ok {
				t.Fatalf("got %v, want a *storable.Error", err)
			}
			if e.Path != tc.path {
				t.Errorf("path %q, want %q", e.Path, tc.path)
			}
			if tc.field != "" && e.Field() != tc.field {
				t.Errorf("field %q, want %q", e.Field(), tc.field)
			}
			if tc.contains != "" && !strings.Contains(e.Error(), tc.contains) {
				t.Errorf("message %q does not say %q", e.Error(), tc.contains)
			}
		})
	}
}

func TestUniqueKeys_checksOnlyKeys(t *testing.T) {
	if err := storable.UniqueKeys([]byte(`{"reason":"a\u0000b","n":1e400000}`)); err != nil {
		t.Errorf("values are not its business: %v", err)
	}
	if err := storable.UniqueKeys([]byte(`{"payload":{"patient_id":1,"patient_id":2}}`)); err == nil {
		t.Error("a duplicate key passed")
	}
}

func TestText_Date_Int4(t *testing.T) {
	for _, s := range []string{"a\x00b", "\xff"} {
		if storable.Text(s) == nil {
			t.Errorf("Text(%q) passed", s)
		}
	}
	if err := storable.Text("Praxis geschlossen ä"); err != nil {
		t.Error(err)
	}
	if storable.Date(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)) == nil {
		t.Error("year 0 passed")
	}
	if err := storable.Date(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Error(err)
	}
	if storable.Int4(2147483648) || storable.Int4(-2147483649) || !storable.Int4(-2147483648) {
		t.Error("Int4 has the wrong bounds")
	}
}

// The check of a deeply nested document costs memory in proportion to its
// depth: a path kept per open container cost the square of the depth, some
// 150 MB for a 20 KB request body nested as deep as encoding/json allows,
// so that a few such requests could exhaust a function's memory. The path
// is now built only for an error, and still names the value.
func TestJSON_deepNestingCostsMemoryInProportion(t *testing.T) {
	const depth = 9990 // encoding/json refuses 10,000 levels
	doc := `{"a":` + strings.Repeat("[", depth) + `"\u0000"` + strings.Repeat("]", depth) + `}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := storable.JSON([]byte(doc))
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 8<<20 {
		t.Errorf("checking %d levels allocates %d MiB", depth, a>>20)
	}
	var e *storable.Error
	if !errors.As(err, &e) || e.Field() != "a" || !strings.HasPrefix(e.Path, "a[0][0]") || len(e.Path) != 1+3*depth {
		t.Fatalf("error %.80v, want the NUL at a[0]…[0]", err)
	}
}
