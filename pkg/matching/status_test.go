package matching_test

import (
	"testing"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
)

func TestValidStatusesText_isThePythonListOfTheEnum(t *testing.T) {
	want := "['aktiv', 'erfolgreich', 'pausiert', 'abgebrochen']"
	if got := matching.ValidStatusesText(); got != want {
		t.Errorf("ValidStatusesText() = %q, want %q", got, want)
	}
	for _, s := range matching.ValidStatuses {
		if !matching.IsValidStatus(s) {
			t.Errorf("IsValidStatus(%q) = false", s)
		}
	}
	for _, s := range []string{"", "Aktiv", "offen"} {
		if matching.IsValidStatus(s) {
			t.Errorf("IsValidStatus(%q) = true", s)
		}
	}
}

func TestCheckTransition_followsTheStateMachine(t *testing.T) {
	allowed := map[[2]string]bool{
		{"aktiv", "erfolgreich"}:    true,
		{"aktiv", "pausiert"}:       true,
		{"aktiv", "abgebrochen"}:    true,
		{"pausiert", "aktiv"}:       true,
		{"pausiert", "abgebrochen"}: true,
	}
	for _, from := range matching.ValidStatuses {
		for _, to := range matching.ValidStatuses {
			err := matching.CheckTransition(from, to)
			if allowed[[2]string{from, to}] {
				if err != nil {
					t.Errorf("%s → %s: %v, want allowed", from, to, err)
				}
				continue
			}
			want := "Invalid status transition from " + from + " to " + to
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.Conflict || fe.Message != want {
				t.Errorf("%s → %s: %v, want Conflict %q", from, to, err, want)
			}
			if fault.Status(err) != 409 {
				t.Errorf("%s → %s: status %d, want 409", from, to, fault.Status(err))
			}
		}
	}
}
