// Package neighbours holds typed clients for the services matching calls
// over HTTP (patient, therapist, communication, geocoding) behind small
// interfaces, so that a local read model can replace them later. The fake
// subpackage serves the same endpoints in memory for tests and the local stack.
//
// Errors: a record that does not exist is a fault.NotFound error; a service
// that does not answer in time or answers 5xx is fault.Unavailable — never
// "not found".
package neighbours

import "context"

// Patients reads patient records.
type Patients interface {
	Patient(ctx context.Context, id int64) (Patient, error)
}

// Therapists reads therapist records and writes the cooling date back.
type Therapists interface {
	Therapist(ctx context.Context, id int64) (Therapist, error)
	// ActiveInPLZPrefix lists therapists with status aktiv whose PLZ starts
	// with prefix (GET /api/therapists?status=aktiv&plz_prefix=…), all pages.
	ActiveInPLZPrefix(ctx context.Context, prefix string) ([]Therapist, error)
	// SetNextContact writes naechster_kontakt_moeglich (YYYY-MM-DD) through
	// PUT /api/therapists/{id}.
	SetNextContact(ctx context.Context, id int64, date string) error
}

// Distances asks the geocoding service for travel distances.
type Distances interface {
	// DistanceKM returns the distance; ok is false when the service could
	// not compute one (unknown address, no route).
	DistanceKM(ctx context.Context, q DistanceQuery) (km float64, ok bool, err error)
}

// Communication creates emails and phone calls.
type Communication interface {
	// CreateEmail posts the email and returns its id.
	CreateEmail(ctx context.Context, e Email) (int64, error)
	// CreatePhoneCall posts the call and returns its id.
	CreatePhoneCall(ctx context.Context, c PhoneCall) (int64, error)
	// PhoneCallsForAnfrage lists the calls whose therapeutenanfrage_id is
	// anfrageID (GET /api/phone-calls?therapeutenanfrage_id=…), with the
	// date and time each is planned for.
	PhoneCallsForAnfrage(ctx context.Context, anfrageID int64) ([]PhoneCallRecord, error)
	// EmailsToTherapist lists the emails to therapistID (GET
	// /api/emails?therapist_id=…) with their subjects, so that a send that
	// may have created its email before it failed can find and adopt it
	// (the subject carries the anfrage's reference).
	EmailsToTherapist(ctx context.Context, therapistID int64) ([]EmailRecord, error)
}
