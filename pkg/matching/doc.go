// Package matching holds the business rules of the matching service as pure
// functions: search status transitions, the checks before a search starts,
// exclusion lists, response classification, the therapist selection list,
// the hard constraints between a patient and a therapist, the email that
// sends an anfrage, cooling dates, the follow-up call time and the notes
// format.
//
// It does no I/O and knows neither the neighbours' wire types nor SQL: the
// rules read matching's own Patient and Therapist (neighbours.Patient's
// Matching method converts a service record), and a rule that needs a
// neighbour's answer takes the answer (the distance of a Trip) rather than
// the neighbour. The use cases that fetch, compose and store live in
// pkg/placement.
//
// Dates: every "today" parameter is the current time in the service's
// TIMEZONE (config.Matching.Location); calendar dates are taken from it as
// is. Timestamps stored by the reference are naive UTC and formatted with
// FormatTimestamp.
package matching
