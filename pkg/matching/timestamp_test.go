package matching_test

import (
	"testing"
	"time"

	"github.com/curavani/matching/pkg/matching"
)

func TestFormatTimestamp_isPythonIsoformatOfNaiveUTC(t *testing.T) {
	cases := map[string]struct {
		in   time.Time
		want string
	}{
		"microseconds":                  {time.Date(2025, 8, 11, 9, 44, 0, 123456000, time.UTC), "2025-08-11T09:44:00.123456"},
		"leading zeros in the fraction": {time.Date(2025, 8, 11, 9, 44, 0, 1000, time.UTC), "2025-08-11T09:44:00.000001"},
		"no fraction when zero":         {time.Date(2025, 8, 11, 9, 44, 0, 0, time.UTC), "2025-08-11T09:44:00"},
		"nanoseconds truncated":         {time.Date(2025, 8, 11, 9, 44, 0, 999, time.UTC), "2025-08-11T09:44:00"},
		"converted to UTC":              {time.Date(2025, 8, 11, 11, 44, 5, 500000000, berlin), "2025-08-11T09:44:05.500000"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := matching.FormatTimestamp(c.in); got != c.want {
				t.Errorf("FormatTimestamp = %q, want %q", got, c.want)
			}
		})
	}
	if matching.FormatTimestampPtr(nil) != nil {
		t.Error("FormatTimestampPtr(nil) is not nil")
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := matching.FormatTimestampPtr(&at); got == nil || *got != "2025-01-02T03:04:05" {
		t.Errorf("FormatTimestampPtr = %v", got)
	}
}

func TestCoolingUntil_countsWeeksFromTheLocalDate(t *testing.T) {
	// 23:30 UTC on 30 March is already 31 March in Berlin.
	now := time.Date(2025, 3, 30, 23, 30, 0, 0, time.UTC).In(berlin)
	cases := map[int]string{4: "2025-04-28", 0: "2025-03-31", 1: "2025-04-07"}
	for weeks, want := range cases {
		if got := matching.CoolingUntil(now, weeks); got != want {
			t.Errorf("CoolingUntil(%d weeks) = %s, want %s", weeks, got, want)
		}
	}
}

func TestInCooling_onlyDatesAfterToday(t *testing.T) {
	cases := map[string]bool{
		"":                    false,
		"2025-08-10":          false,
		"2025-08-11":          false, // contactable again on that day
		"2025-08-12":          true,
		"2025-08-12T00:00:00": true,
		"garbage":             false,
	}
	for until, want := range cases {
		if got := matching.InCooling(until, testToday); got != want {
			t.Errorf("InCooling(%q) = %v, want %v", until, got, want)
		}
	}
}
