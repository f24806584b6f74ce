package matching

import "time"

// FormatTimestamp formats t as Python's isoformat() of a naive UTC datetime,
// as the reference serialises its timestamp columns:
// "2025-08-11T09:44:00.123456", the fraction dropped when it is zero.
func FormatTimestamp(t time.Time) string { panic("TODO") }

// FormatTimestampPtr is FormatTimestamp for a nullable column: nil stays nil.
func FormatTimestampPtr(t *time.Time) *string { panic("TODO") }
