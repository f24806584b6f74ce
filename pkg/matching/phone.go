package matching

import (
	"encoding/json"
	"strings"
	"time"
)

// germanWeekdays are the keys of a therapist's telefonische_erreichbarkeit,
// indexed by time.Weekday (Sunday = 0), as the therapist service stores them.
var germanWeekdays = [7]string{"sonntag", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag"}

// NextWorkingDay returns midnight (in day's location) of the first Monday to
// Friday after day's date: Monday to Thursday give the next day, Friday,
// Saturday and Sunday give the following Monday. Public holidays are not
// known to matching and count as working days.
func NextWorkingDay(day time.Time) time.Time {
	y, m, d := day.Date()
	next := time.Date(y, m, d+1, 0, 0, 0, 0, day.Location())
	switch next.Weekday() {
	case time.Saturday:
		next = next.AddDate(0, 0, 2)
	case time.Sunday:
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// CallTime returns the time (HH:MM) at which to call a therapist on day: the
// start of the first slot listed for day's weekday in erreichbarkeit
// ({"montag": ["10:00-12:00"], …} → "10:00"), or def when the therapist lists
// nothing usable for that weekday (no object, no key, an empty list, or a
// first slot that does not start with a time of day).
func CallTime(erreichbarkeit json.RawMessage, day time.Time, def string) string {
	var byDay map[string]json.RawMessage
	if len(erreichbarkeit) == 0 || json.Unmarshal(erreichbarkeit, &byDay) != nil {
		return def
	}
	var slots []json.RawMessage
	if json.Unmarshal(byDay[germanWeekdays[day.Weekday()]], &slots) != nil || len(slots) == 0 {
		return def
	}
	var first string
	if json.Unmarshal(slots[0], &first) != nil {
		return def
	}
	start, _, _ := strings.Cut(first, "-")
	t, err := time.Parse("15:04", strings.TrimSpace(start))
	if err != nil {
		// The communication service rejects anything but HH:MM with a 400;
		// the default is the better call than no call at all.
		return def
	}
	return t.Format("15:04")
}
