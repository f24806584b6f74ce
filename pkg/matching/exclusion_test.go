package matching_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
)

func TestExcludedIDs_readsIntegersAndObjects(t *testing.T) {
	cases := map[string]struct {
		raw  string
		want []int64
	}{
		"integers":       {`[101, 102]`, []int64{101, 102}},
		"objects":        {`[{"id": 7, "excluded_at": "2025-06-15T10:11:12.123456", "reason": "Rejected: abgelehnt_nicht_geeignet"}]`, []int64{7}},
		"mixed":          {`[101, {"id": 7, "reason": null}]`, []int64{7, 101}},
		"empty":          {`[]`, nil},
		"null":           {`null`, nil},
		"absent":         {``, nil},
		"not a list":     {`{"id": 7}`, nil},
		"malformed":      {`[1,`, nil},
		"others ignored": {`[true, 1.5, "8", {"id": "9"}, {"ID": 10}, null, 11]`, []int64{11}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := matching.ExcludedIDs(json.RawMessage(c.raw))
			want := map[int64]bool{}
			for _, id := range c.want {
				want[id] = true
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ExcludedIDs(%s) (-want +got):\n%s", c.raw, diff)
			}
		})
	}
}

func TestValidateExclusionList_acceptsOnlyIntegerIDs(t *testing.T) {
	cases := map[string]struct {
		raw  string
		want string // stored JSON; "" = rejected
	}{
		"integers kept as given":   {`[101, 102]`, `[101,102]`},
		"empty list":               {`[ ]`, `[]`},
		"duplicates kept as given": {`[5,5]`, `[5,5]`},
		"objects with integer id":  {`[101, {"id": 7, "excluded_at": "2025-06-15T10:11:12", "reason": "x"}]`, `[101,{"id":7,"excluded_at":"2025-06-15T10:11:12","reason":"x"}]`},
		"boolean":                  {`[101, true]`, ""},
		"float":                    {`[101.0]`, ""},
		"exponent":                 {`[1e2]`, ""},
		"string id":                {`["101"]`, ""},
		"null entry":               {`[null]`, ""},
		"object with string id":    {`[{"id": "7"}]`, ""},
		"object without id":        {`[{"reason": "x"}]`, ""},
		"not a list":               {`"101"`, ""},
		"object instead of a list": {`{"id": 7}`, ""},
		"too large":                {`[99999999999999999999]`, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := matching.ValidateExclusionList(json.RawMessage(c.raw))
			if c.want == "" {
				fe := fault.As(err)
				if fe == nil || fe.Kind != fault.Invalid || fe.Message != "Invalid therapist IDs in exclusion list" {
					t.Fatalf("got %s, %v; want the 400", got, err)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %s, %v; want %s", got, err, c.want)
			}
		})
	}
	for _, raw := range []string{"", "null", " null "} {
		if got, err := matching.ValidateExclusionList(json.RawMessage(raw)); got != nil || err != nil {
			t.Errorf("%q: got %s, %v; want nil, nil (leave the list alone)", raw, got, err)
		}
	}
}

func TestExclusionEntry_hasTheReferenceShape(t *testing.T) {
	at := time.Date(2025, 6, 15, 10, 11, 12, 123456000, time.UTC)
	e := matching.NewExclusionEntry(7, at, matching.ExclusionReason(matching.OutcomeAbgelehntNichtGeeignet))
	want := `{"id":7,"excluded_at":"2025-06-15T10:11:12.123456","reason":"Rejected: abgelehnt_nicht_geeignet"}`
	if got := string(e.JSON()); got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	whole := matching.NewExclusionEntry(7, at.Truncate(time.Second), "r")
	if whole.ExcludedAt != "2025-06-15T10:11:12" {
		t.Errorf("ExcludedAt = %s", whole.ExcludedAt)
	}
}

func TestAddExclusion_appendsOnce(t *testing.T) {
	e := matching.ExclusionEntry{ID: 7, ExcludedAt: "2025-06-15T10:11:12", Reason: "r"}
	cases := map[string]struct {
		raw     string
		want    string
		changed bool
	}{
		"to integers":          {`[101]`, `[101,{"id":7,"excluded_at":"2025-06-15T10:11:12","reason":"r"}]`, true},
		"to null":              {`null`, `[{"id":7,"excluded_at":"2025-06-15T10:11:12","reason":"r"}]`, true},
		"already as integer":   {`[7]`, `[7]`, false},
		"already as an object": {`[{"id":7}]`, `[{"id":7}]`, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, changed := matching.AddExclusion(json.RawMessage(c.raw), e)
			if string(got) != c.want || changed != c.changed {
				t.Errorf("got %s, %v; want %s, %v", got, changed, c.want, c.changed)
			}
		})
	}
}
