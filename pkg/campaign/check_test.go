package campaign

import (
	"testing"
	"time"
)

// A 5xx is excused when its request was in flight during a fault or sent
// within the grace after it; one sent in a quiet time fails the row — also
// one sent just before a fault began that was answered before it.
func TestAnswers_a5xxIsExcusedOnlyByAFaultItOverlaps(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	windows := []window{{Name: "db", Start: at(10), End: at(20)}, {Name: "sink", Start: at(60), End: at(70)}}
	for name, tc := range map[string]struct {
		sent, done float64
		late       bool
	}{
		"during a fault":                   {12, 13, false},
		"sent before, answered during":     {59.9, 62, false},
		"sent within the grace after":      {24, 24.5, false},
		"sent in a quiet time":             {40, 40.2, true},
		"before any fault":                 {2, 2.1, true},
		"sent and answered before a fault": {59.7, 59.8, true},
	} {
		c := &checker{t: &traffic{answers: []answer{{At: at(tc.sent), Done: at(tc.done), Status: 503}}}}
		c.answers(windows, 5*time.Second)
		if got := !c.rows[1].OK; got != tc.late {
			t.Errorf("%s: late %v, want %v (%s)", name, got, tc.late, c.rows[1].Observed)
		}
	}
}
