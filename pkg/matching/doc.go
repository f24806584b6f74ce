// Package matching holds the business rules of the matching service that do
// not need the database: search status transitions, the checks before a
// search starts, exclusion lists, response classification, the therapist
// selection list, the hard constraints between a patient and a therapist,
// the composition of an anfrage, the email that sends it, cooling dates, the
// follow-up call time and the notes format.
//
// Nothing here does I/O except through the neighbour interfaces
// (neighbours.Patients, neighbours.Distances) a caller passes in; SQL and
// transactions live with the callers (pkg/api, the event handlers).
//
// Dates: every "today" parameter is the current time in the service's
// TIMEZONE (config.Matching.Location); calendar dates are taken from it as
// is. Timestamps stored by the reference are naive UTC and formatted with
// FormatTimestamp.
package matching
