package placement_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/placement"
)

// An anfrage sent before the letter's people were kept is read by Person
// number and Patienten-ID alone: a reply naming people that way is read, a
// reply describing them (by gender, age, symptom) leaves them undecided
// rather than guessing.
func TestAnalyseReply_anAnfrageWithoutTheLettersPeopleIsReadByNumberAndID(t *testing.T) {
	t.Parallel()
	s, _ := sentAnfrage(t)
	ctx := context.Background()
	got, err := s.AnalyseReply(ctx, 1, placement.Reply{Body: "Person 1 nehme ich gern auf. Für Patienten-ID 102 habe ich leider keine Kapazität."})
	if err != nil {
		t.Fatal(err)
	}
	want := []placement.PatientOutcome{{PatientID: 101, Outcome: "angenommen"}, {PatientID: 102, Outcome: "abgelehnt_Kapazitaet"}}
	if d := cmp.Diff(want, got.Responses); d != "" || !got.Automatic || got.AnfrageID != 1 || got.TherapistID != 9 {
		t.Errorf("by number and id: %+v (-want +got responses):\n%s", got, d)
	}
	got, err = s.AnalyseReply(ctx, 1, placement.Reply{Body: "Die Patientin mit der Depression nehme ich gern auf, den Herrn leider nicht, keine Kapazität."})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Responses) != 0 || got.Automatic || got.Reason != placement.ReasonUndecided {
		t.Errorf("by description: %+v, want everyone undecided", got)
	}
	if _, err := s.AnalyseReply(ctx, 2, placement.Reply{Body: "Ja"}); fault.KindOf(err) != fault.NotFound {
		t.Errorf("unknown anfrage: %v", err)
	}
}
