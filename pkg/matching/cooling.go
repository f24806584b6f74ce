package matching

import "time"

// CoolingUntil returns the date (YYYY-MM-DD) until which a therapist is not
// contacted again: the calendar date of today plus weeks weeks. today must be
// in the service's TIMEZONE, so the date is the local one (the reference
// used the UTC date, which is a day early after midnight in Berlin).
func CoolingUntil(today time.Time, weeks int) string {
	return today.AddDate(0, 0, 7*weeks).Format(time.DateOnly)
}

// InCooling reports whether a cooling date (YYYY-MM-DD, or an ISO datetime
// whose date part counts) lies after today's date. A missing or unreadable
// date means no cooling.
func InCooling(until string, today time.Time) bool {
	d, ok := parseDate(until)
	return ok && d > today.Format(time.DateOnly)
}

// parseDate reads the date part of an ISO date or datetime and returns it as
// YYYY-MM-DD, which compares correctly as a string.
func parseDate(s string) (string, bool) {
	if len(s) < 10 {
		return "", false
	}
	if len(s) > 10 && s[10] != 'T' && s[10] != ' ' {
		return "", false
	}
	d, err := time.Parse(time.DateOnly, s[:10])
	if err != nil {
		return "", false
	}
	return d.Format(time.DateOnly), true
}
