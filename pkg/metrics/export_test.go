package metrics

import "time"

// SetClock replaces the clock of m's scrape caches.
func SetClock(m *Metrics, now func() time.Time) { m.now = now }
