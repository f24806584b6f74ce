package matching

import "time"

// CoolingUntil returns the date (YYYY-MM-DD) until which a therapist is not
// contacted again: today plus weeks, as a calendar date in today's location
// (the service's TIMEZONE).
func CoolingUntil(today time.Time, weeks int) string { panic("TODO") }
