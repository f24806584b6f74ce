package matching

import (
	"fmt"
	"time"
)

// FormatTimestamp formats t as Python's isoformat() of a naive UTC datetime,
// as the reference serialises its timestamp columns:
// "2025-08-11T09:44:00.123456", or "2025-08-11T09:44:00" when the
// microseconds are zero. Precision below a microsecond is dropped (truncated),
// as PostgreSQL stores microseconds.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// FormatTimestampPtr is FormatTimestamp for a nullable column: nil stays nil.
func FormatTimestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := FormatTimestamp(*t)
	return &s
}
