package placement

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
)

func sp(s string) *string { return &s }

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

// patientRecord is a complete patient record, as the patient service sends
// it, that any therapist from therapist() accepts: 35 years old on
// testToday, open to group therapy, living in 52062 Aachen.
const patientRecord = `{"anrede": "Frau", "vorname": "Anna", "nachname": "Beispiel",
	"strasse": "Hauptstraße 1", "plz": "52062", "ort": "Aachen",
	"geschlecht": "weiblich", "geburtsdatum": "1990-03-15",
	"symptome": ["Depression / Niedergeschlagenheit", "Ängste / Panikattacken"],
	"krankenkasse": "AOK", "erfahrung_mit_psychotherapie": false, "offen_fuer_gruppentherapie": true,
	"zeitliche_verfuegbarkeit": {"montag": ["09:00-12:00", "14:00-17:00"], "mittwoch": ["10:00-12:00"]},
	"raeumliche_verfuegbarkeit": {"max_km": 25}, "verkehrsmittel": "Auto", "ausgeschlossene_therapeuten": []}`

// therapistRecord is a therapist without preferences in 52064 Aachen.
const therapistRecord = `{"anrede": "Herr", "titel": "Dr.", "vorname": "Max", "nachname": "Mustermann",
	"strasse": "Marktplatz 2", "plz": "52064", "ort": "Aachen", "email": "praxis@mustermann.de",
	"status": "aktiv", "geschlecht": "männlich", "psychotherapieverfahren": "Verhaltenstherapie"}`

// patient is patientRecord with the id.
func patient(id int64) neighbours.Patient {
	var p neighbours.Patient
	if err := json.Unmarshal([]byte(patientRecord), &p); err != nil {
		panic(err)
	}
	p.ID = id
	return p
}

// therapist is therapistRecord with the id, as the rules read it.
func therapist(id int64) matching.Therapist {
	var t neighbours.Therapist
	if err := json.Unmarshal([]byte(therapistRecord), &t); err != nil {
		panic(err)
	}
	t.ID = id
	return t.Matching()
}

// testToday is 2025-08-11, a Monday; the rules read its calendar date.
var testToday = time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC)
