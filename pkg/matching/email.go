package matching

import (
	"time"

	"github.com/curavani/matching/pkg/neighbours"
)

// EmailSubject is the subject of the email sending anfrage anfrageID.
func EmailSubject(anfrageID int64) string { panic("TODO") }

// RecipientName is "titel vorname nachname" of t without missing parts.
func RecipientName(t neighbours.Therapist) string { panic("TODO") }

// RenderEmail writes the German Markdown body of the email that sends
// anfrage anfrageID with patients to therapist t.
func RenderEmail(t neighbours.Therapist, patients []neighbours.Patient, anfrageID int64, today time.Time) string {
	panic("TODO")
}
