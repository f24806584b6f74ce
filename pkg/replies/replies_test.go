package replies_test

import (
	"testing"

	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/replies"
)

// TestOutcomes_areTheOnesPutAntwortTakes: the parser keeps its own copy of
// the outcome names so that it imports nothing of the project; they must
// stay the patientenergebnis values of pkg/matching.
func TestOutcomes_areTheOnesPutAntwortTakes(t *testing.T) {
	for got, want := range map[string]string{
		replies.Angenommen:             matching.OutcomeAngenommen,
		replies.AbgelehntKapazitaet:    matching.OutcomeAbgelehntKapazitaet,
		replies.AbgelehntNichtGeeignet: matching.OutcomeAbgelehntNichtGeeignet,
		replies.AbgelehntSonstiges:     matching.OutcomeAbgelehntSonstiges,
	} {
		if got != want || !matching.IsOutcome(got) {
			t.Errorf("outcome %q, want %q", got, want)
		}
	}
}

// TestParse_personNumberDefaultsToThePosition: a Person without Number is
// the one at its place in the list, as the letter numbers them.
func TestParse_personNumberDefaultsToThePosition(t *testing.T) {
	people := []replies.Person{{PatientID: 1, Geschlecht: "weiblich", Alter: 30}, {PatientID: 2, Geschlecht: "männlich", Alter: 40}}
	res := replies.Parse(people, replies.Reply{Body: "Person 2 nehme ich gerne, Erstgespräch am 3.7. um 10 Uhr. Für Person 1 habe ich leider keinen Platz mehr."})
	if res.Decisions[1].Person != 2 || res.Decisions[1].Outcome != replies.Angenommen || res.Decisions[0].Outcome != replies.AbgelehntKapazitaet {
		t.Errorf("Decisions = %+v", res.Decisions)
	}
	if !res.FullyDecided {
		t.Error("not FullyDecided")
	}
}
