package matching_test

import (
	"testing"

	"github.com/curavani/matching/pkg/matching"
)

func TestOutcomes_perOutcomeRowStatusCountAndExclusion(t *testing.T) {
	cases := []struct {
		outcome  string
		row      string
		accepted bool
		rejected bool
		excludes bool
	}{
		{"angenommen", "angenommen", true, false, false},
		{"abgelehnt_Kapazitaet", "abgelehnt", false, true, false},
		{"abgelehnt_nicht_geeignet", "abgelehnt", false, true, true},
		{"abgelehnt_sonstiges", "abgelehnt", false, true, false},
		{"nicht_erschienen", "abgelehnt", false, true, true},
		{"in_Sitzungen", "angenommen", true, false, false},
		{"", "keine_antwort", false, false, false},
	}
	if len(matching.Outcomes) != 6 {
		t.Fatalf("Outcomes = %v", matching.Outcomes)
	}
	for i, c := range cases {
		if i < len(matching.Outcomes) && matching.Outcomes[i] != c.outcome {
			t.Errorf("Outcomes[%d] = %s, want %s (enum order)", i, matching.Outcomes[i], c.outcome)
		}
		if got := matching.RowStatus(c.outcome); got != c.row {
			t.Errorf("RowStatus(%q) = %s, want %s", c.outcome, got, c.row)
		}
		if got := matching.Accepted(c.outcome); got != c.accepted {
			t.Errorf("Accepted(%q) = %v", c.outcome, got)
		}
		if got := matching.Rejected(c.outcome); got != c.rejected {
			t.Errorf("Rejected(%q) = %v", c.outcome, got)
		}
		if got := matching.ExcludesTherapist(c.outcome); got != c.excludes {
			t.Errorf("ExcludesTherapist(%q) = %v", c.outcome, got)
		}
		if got := matching.IsOutcome(c.outcome); got != (c.outcome != "") {
			t.Errorf("IsOutcome(%q) = %v", c.outcome, got)
		}
	}
}

func TestClassify_typeFromTheNewCounts(t *testing.T) {
	cases := map[string]struct {
		outcomes []string
		size     int
		want     matching.Summary
	}{
		"first response, six acceptances": {
			[]string{"angenommen", "angenommen", "angenommen", "angenommen", "angenommen", "angenommen"}, 6,
			matching.Summary{Accepted: 6, Type: "vollstaendige_Annahme"},
		},
		"in sessions counts as accepted": {
			[]string{"angenommen", "in_Sitzungen"}, 2,
			matching.Summary{Accepted: 2, Type: "vollstaendige_Annahme"},
		},
		"partial": {
			[]string{"angenommen", "abgelehnt_Kapazitaet", "nicht_erschienen"}, 3,
			matching.Summary{Accepted: 1, Rejected: 2, Type: "teilweise_Annahme"},
		},
		"all rejected, no-show included": {
			[]string{"abgelehnt_Kapazitaet", "abgelehnt_nicht_geeignet", "abgelehnt_sonstiges", "nicht_erschienen"}, 4,
			matching.Summary{Rejected: 4, Type: "vollstaendige_Ablehnung"},
		},
		"some rejected, rest unanswered": {
			[]string{"abgelehnt_Kapazitaet", ""}, 2,
			matching.Summary{Rejected: 1, NoResponse: 1, Type: "keine_Antwort"},
		},
		"rows missing from the outcomes": {
			[]string{"angenommen"}, 3,
			matching.Summary{Accepted: 1, NoResponse: 2, Type: "teilweise_Annahme"},
		},
		"nothing answered": {
			[]string{"", ""}, 2,
			matching.Summary{NoResponse: 2, Type: "keine_Antwort"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := matching.Classify(c.outcomes, c.size); got != c.want {
				t.Errorf("Classify = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestClassify_countsAlwaysAddUpToTheSize(t *testing.T) {
	choices := append([]string{""}, matching.Outcomes...)
	var walk func(prefix []string)
	walk = func(prefix []string) {
		if len(prefix) == 3 {
			s := matching.Classify(prefix, 3)
			if s.Accepted+s.Rejected+s.NoResponse != 3 {
				t.Errorf("Classify(%q) = %+v", prefix, s)
			}
			return
		}
		for _, c := range choices {
			walk(append(prefix[:len(prefix):len(prefix)], c))
		}
	}
	walk(nil)
}
