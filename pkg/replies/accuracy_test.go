package replies_test

import (
	"strings"
	"testing"
)

// TestAccuracy_noWrongOutcomeIsEverApplied prints the accuracy figures of
// the examples and of the package's own replies (go test -v -run Accuracy)
// and fails when a reply that would be applied automatically (every
// patient decided, not automatic) carries a wrong outcome, or when the
// figures fall below the targets of the issue: 90 % right among decided
// patients, 60 % of fully decidable replies applied automatically.
func TestAccuracy_noWrongOutcomeIsEverApplied(t *testing.T) {
	for _, set := range []string{"testdata/examples.jsonl", "testdata/own.jsonl"} {
		s := scoreCases(loadCases(t, set))
		t.Logf("%s: %s", set, s)
		if len(s.misses) > 0 {
			t.Logf("%s: not exactly right: %s", set, strings.Join(s.misses, " "))
		}
		if s.wrongApplied > 0 {
			t.Errorf("%s: wrong outcomes in replies that would be applied automatically:\n  %s", set, strings.Join(s.wrongAppliedCases, "\n  "))
		}
		if pct(s.decidedRight, s.decided) < 90 {
			t.Errorf("%s: %.1f %% right among decided patients, want ≥ 90 %%", set, pct(s.decidedRight, s.decided))
		}
		if pct(s.appliedOfDecidable, s.decidable) < 60 {
			t.Errorf("%s: %.1f %% of fully decidable replies applied, want ≥ 60 %%", set, pct(s.appliedOfDecidable, s.decidable))
		}
	}
}
