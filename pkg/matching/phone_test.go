package matching

import (
	"encoding/json"
	"testing"
	"time"
)

func TestNextWorkingDay_skipsTheWeekend(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		day  time.Time
		want string
	}{
		"monday gives tuesday":            {time.Date(2025, 3, 24, 9, 0, 0, 0, berlin), "2025-03-25 Tuesday"},
		"thursday gives friday":           {time.Date(2025, 3, 27, 23, 59, 0, 0, berlin), "2025-03-28 Friday"},
		"friday gives monday":             {time.Date(2025, 3, 28, 9, 0, 0, 0, berlin), "2025-03-31 Monday"},
		"saturday gives monday":           {time.Date(2025, 3, 29, 9, 0, 0, 0, berlin), "2025-03-31 Monday"},
		"sunday gives monday":             {time.Date(2025, 3, 30, 0, 0, 0, 0, berlin), "2025-03-31 Monday"},
		"month end rolls over":            {time.Date(2025, 1, 31, 9, 0, 0, 0, berlin), "2025-02-03 Monday"},
		"year end rolls over":             {time.Date(2025, 12, 31, 9, 0, 0, 0, berlin), "2026-01-01 Thursday"},
		"the date is that of day's place": {time.Date(2025, 3, 27, 23, 30, 0, 0, time.UTC).In(berlin), "2025-03-31 Monday"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := NextWorkingDay(tc.day)
			if s := got.Format("2006-01-02 Monday"); s != tc.want {
				t.Errorf("NextWorkingDay(%s) = %s, want %s", tc.day.Format(time.RFC3339), s, tc.want)
			}
			if got.Location() != tc.day.Location() || got.Hour() != 0 || got.Minute() != 0 {
				t.Errorf("NextWorkingDay(%s) = %s, want midnight in %s", tc.day, got, tc.day.Location())
			}
		})
	}
}

func TestCallTime_usesTheFirstSlotOfThatWeekday(t *testing.T) {
	monday := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
	friday := time.Date(2025, 4, 4, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		erreichbarkeit string
		day            time.Time
		want           string
	}{
		"first slot start":          {`{"montag": ["10:00-12:00", "14:00-16:00"]}`, monday, "10:00"},
		"other weekday's slot only": {`{"montag": ["10:00-12:00"]}`, friday, "09:30"},
		"friday key":                {`{"montag": ["10:00-12:00"], "freitag": ["08:15-09:00"]}`, friday, "08:15"},
		"spaces around the dash":    {`{"montag": [" 11:00 - 12:00"]}`, monday, "11:00"},
		"a single time":             {`{"montag": ["13:45"]}`, monday, "13:45"},
		"one-digit hour normalised": {`{"montag": ["9:00-10:00"]}`, monday, "09:00"},
		"empty list":                {`{"montag": []}`, monday, "09:30"},
		"null list":                 {`{"montag": null}`, monday, "09:30"},
		"not a time":                {`{"montag": ["vormittags"]}`, monday, "09:30"},
		"slot not a string":         {`{"montag": [{"von": "10:00"}]}`, monday, "09:30"},
		"capitalised key ignored":   {`{"Montag": ["10:00-12:00"]}`, monday, "09:30"},
		"empty object":              {`{}`, monday, "09:30"},
		"null":                      {`null`, monday, "09:30"},
		"absent":                    {``, monday, "09:30"},
		"not an object":             {`["10:00-12:00"]`, monday, "09:30"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := CallTime(json.RawMessage(tc.erreichbarkeit), tc.day, "09:30"); got != tc.want {
				t.Errorf("CallTime(%s, %s) = %q, want %q", tc.erreichbarkeit, tc.day.Weekday(), got, tc.want)
			}
		})
	}
}
