package matching_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/neighbours"
)

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }
func ip(n int) *int       { return &n }

// fakePatients answers patient reads from a map after a delay, counting
// calls and the largest number of calls in flight at once.
type fakePatients struct {
	records  map[int64]neighbours.Patient
	errs     map[int64]error         // returned instead of the record
	delay    time.Duration           // for every call
	delays   map[int64]time.Duration // per patient, overriding delay
	calls    atomic.Int64
	inflight atomic.Int64
	mu       sync.Mutex
	peak     int64
}

func (f *fakePatients) Patient(ctx context.Context, id int64) (neighbours.Patient, error) {
	f.calls.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	f.mu.Lock()
	f.peak = max(f.peak, n)
	f.mu.Unlock()
	d := f.delay
	if v, ok := f.delays[id]; ok {
		d = v
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return neighbours.Patient{}, fault.Unavailablef("Patient service unavailable").Wrap(ctx.Err())
		}
	}
	if err := f.errs[id]; err != nil {
		return neighbours.Patient{}, err
	}
	p, ok := f.records[id]
	if !ok {
		return neighbours.Patient{}, fault.NotFoundf("Patient %d not found", id)
	}
	return p, nil
}

// fakeDistances answers distance queries from a map keyed by origin and
// destination (default: def km), after a delay, and records the queries.
type fakeDistances struct {
	km    map[[2]string]float64
	none  map[[2]string]bool // no distance computable
	def   float64
	err   error
	delay time.Duration
	mu    sync.Mutex
	calls []neighbours.DistanceQuery
}

func (f *fakeDistances) DistanceKM(ctx context.Context, q neighbours.DistanceQuery) (float64, bool, error) {
	f.mu.Lock()
	f.calls = append(f.calls, q)
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return 0, false, fault.Unavailablef("Geocoding service unavailable").Wrap(ctx.Err())
		}
	}
	if f.err != nil {
		return 0, false, f.err
	}
	key := [2]string{q.Origin, q.Destination}
	if f.none[key] {
		return 0, false, nil
	}
	if km, ok := f.km[key]; ok {
		return km, true, nil
	}
	return f.def, true, nil
}

func (f *fakeDistances) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// patient returns a complete patient record that any therapist from
// therapist() accepts: 35 years old on testToday, open to group therapy,
// living in 52062 Aachen.
func patient(id int64) neighbours.Patient {
	return neighbours.Patient{
		ID:                         id,
		Anrede:                     sp("Frau"),
		Vorname:                    sp("Anna"),
		Nachname:                   sp("Beispiel"),
		Strasse:                    sp("Hauptstraße 1"),
		PLZ:                        sp("52062"),
		Ort:                        sp("Aachen"),
		Geschlecht:                 sp("weiblich"),
		Geburtsdatum:               sp("1990-03-15"),
		Symptome:                   json.RawMessage(`["Depression / Niedergeschlagenheit","Ängste / Panikattacken"]`),
		Krankenkasse:               sp("AOK"),
		ErfahrungMitPsychotherapie: bp(false),
		OffenFuerGruppentherapie:   bp(true),
		ZeitlicheVerfuegbarkeit:    json.RawMessage(`{"montag":["09:00-12:00","14:00-17:00"],"mittwoch":["10:00-12:00"]}`),
		RaeumlicheVerfuegbarkeit:   json.RawMessage(`{"max_km":25}`),
		Verkehrsmittel:             sp("Auto"),
		AusgeschlosseneTherapeuten: json.RawMessage(`[]`),
	}
}

// therapist returns a therapist without preferences in 52064 Aachen.
func therapist(id int64) neighbours.Therapist {
	return neighbours.Therapist{
		ID:                      id,
		Anrede:                  sp("Herr"),
		Titel:                   sp("Dr."),
		Vorname:                 sp("Max"),
		Nachname:                sp("Mustermann"),
		Strasse:                 sp("Marktplatz 2"),
		PLZ:                     sp("52064"),
		Ort:                     sp("Aachen"),
		Email:                   sp("praxis@mustermann.de"),
		Status:                  sp("aktiv"),
		Geschlecht:              sp("männlich"),
		Psychotherapieverfahren: sp("Verhaltenstherapie"),
	}
}

// testToday is 2025-08-11 10:00 in Berlin.
var testToday = time.Date(2025, 8, 11, 10, 0, 0, 0, berlin)

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()
