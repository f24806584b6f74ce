package placement

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// world is a set of candidate searches with their patients.
type world struct {
	cands    []store.Candidate
	patients *fakePatients
	dist     *fakeDistances
}

// newWorld makes n candidates (search id i+1, patient id 1000+i, created a
// minute apart); each patient passes against therapist(1) unless fail(i)
// says so, in which case the therapist is excluded by the search.
func newWorld(n int, delay time.Duration, fail func(i int) bool) *world {
	w := &world{
		patients: &fakePatients{records: map[int64]neighbours.Patient{}, delay: delay},
		dist:     &fakeDistances{def: 10, delay: delay},
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		c := store.Candidate{SearchID: int64(i + 1), PatientID: int64(1000 + i), CreatedAt: start.Add(time.Duration(i) * time.Minute), Exclusions: json.RawMessage(`[]`)}
		if fail != nil && fail(i) {
			c.Exclusions = json.RawMessage(`[1]`)
		}
		w.cands = append(w.cands, c)
		w.patients.records[c.PatientID] = patient(c.PatientID)
	}
	return w
}

func (w *world) composer(max, concurrency int) *composer {
	return &composer{patients: w.patients, distances: w.dist, concurrency: concurrency, defaultMaxKM: 25, max: max}
}

func searchIDs(chosen []chosen) []int64 {
	out := []int64{}
	for _, c := range chosen {
		out = append(out, c.SearchID)
	}
	return out
}

// sequentialCompose is the reference's algorithm, one call at a time: read
// every candidate's patient, keep the PLZ matches, check every one, take the
// first max. It is the baseline of the benchmark and the oracle of the tests.
func sequentialCompose(ctx context.Context, p neighbours.Patients, d neighbours.Distances, t matching.Therapist, prefix string, cands []store.Candidate, max int) ([]chosen, error) {
	var matches []chosen
	for _, c := range cands {
		pat, err := p.Patient(ctx, c.PatientID)
		if fault.KindOf(err) == fault.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(*pat.PLZ, prefix) {
			matches = append(matches, chosen{Candidate: c, Patient: pat})
		}
	}
	var out []chosen
	for _, m := range matches {
		ok, _, err := CheckConstraints(ctx, m.Patient.Matching(), t, m.Exclusions, d, 25, testToday)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m)
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

func TestCompose_keepsOldestFirstWhenLaterAnswersArriveFirst(t *testing.T) {
	w := newWorld(10, 0, func(i int) bool { return i == 1 })
	// The oldest patients answer slowest.
	w.patients.delays = map[int64]time.Duration{1000: 20 * time.Millisecond, 1002: 10 * time.Millisecond}
	got, err := w.composer(4, 8).compose(context.Background(), therapist(1), "52", w.cands, testToday)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 3, 4, 5}, searchIDs(got)); diff != "" {
		t.Errorf("search ids (-want +got):\n%s", diff)
	}
	if got[0].Patient.ID != 1000 || got[0].CreatedAt != w.cands[0].CreatedAt {
		t.Errorf("first chosen %+v", got[0])
	}
}

func TestCompose_stopsLaunchingOnceMaxQualified(t *testing.T) {
	w := newWorld(200, 2*time.Millisecond, nil)
	got, err := w.composer(6, 4).compose(context.Background(), therapist(1), "52", w.cands, testToday)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2, 3, 4, 5, 6}, searchIDs(got)); diff != "" {
		t.Errorf("search ids (-want +got):\n%s", diff)
	}
	// At most the window beyond the sixth candidate was started.
	if calls := w.patients.calls.Load(); calls > 6+4 {
		t.Errorf("%d patient calls, want at most 10", calls)
	}
	if w.patients.peak > 4 {
		t.Errorf("%d patient calls at once, want at most 4", w.patients.peak)
	}
}

func TestCompose_skipsOtherPLZAndDeletedPatients(t *testing.T) {
	w := newWorld(6, 0, nil)
	p := w.patients.records[1001]
	p.PLZ = sp("10115")
	w.patients.records[1001] = p
	delete(w.patients.records, 1002) // deleted in the patient service: 404
	got, err := w.composer(6, 3).compose(context.Background(), therapist(1), "52", w.cands, testToday)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 4, 5, 6}, searchIDs(got)); diff != "" {
		t.Errorf("search ids (-want +got):\n%s", diff)
	}
}

func TestCompose_fewerThanMaxReturnsAllQualifying(t *testing.T) {
	w := newWorld(30, 0, func(i int) bool { return i%10 != 0 })
	got, err := w.composer(6, 8).compose(context.Background(), therapist(1), "52", w.cands, testToday)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 11, 21}, searchIDs(got)); diff != "" {
		t.Errorf("search ids (-want +got):\n%s", diff)
	}
	if calls := w.patients.calls.Load(); calls != 30 {
		t.Errorf("%d patient calls, want 30", calls)
	}
	none, err := w.composer(6, 8).compose(context.Background(), therapist(1), "52", nil, testToday)
	if none != nil || err != nil {
		t.Errorf("no candidates: %v, %v", none, err)
	}
}

func TestCompose_outageBeforeMaxIsAnError(t *testing.T) {
	w := newWorld(20, time.Millisecond, nil)
	w.patients.errs = map[int64]error{1003: fault.Unavailablef("Patient service unavailable")}
	got, err := w.composer(6, 4).compose(context.Background(), therapist(1), "52", w.cands, testToday)
	if got != nil || fault.Status(err) != 503 {
		t.Fatalf("got %v, %v; want the 503", searchIDs(got), err)
	}
	if !strings.Contains(err.Error(), "patient 1003 of search 4") {
		t.Errorf("error %q does not name the candidate", err)
	}

	w = newWorld(20, time.Millisecond, nil)
	w.dist.err = fault.Unavailablef("Geocoding service unavailable")
	if _, err := w.composer(6, 4).compose(context.Background(), therapist(1), "52", w.cands, testToday); fault.Status(err) != 503 {
		t.Fatalf("geocoding outage: %v, want the 503", err)
	}
}

func TestCompose_outageAfterMaxDoesNotMatter(t *testing.T) {
	w := newWorld(5, 5*time.Millisecond, nil)
	// Candidate 3 fails fast, before the two chosen ones are decided.
	w.patients.delays = map[int64]time.Duration{1002: 0}
	w.patients.errs = map[int64]error{1002: fault.Unavailablef("Patient service unavailable")}
	got, err := w.composer(2, 4).compose(context.Background(), therapist(1), "52", w.cands, testToday)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, searchIDs(got)); diff != "" {
		t.Errorf("search ids (-want +got):\n%s", diff)
	}
}

func TestCompose_endedContextIsAnError(t *testing.T) {
	w := newWorld(20, 50*time.Millisecond, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err := w.composer(6, 4).compose(ctx, therapist(1), "52", w.cands, testToday)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
}

// TestCompose_sameResultAsTheSequentialScan compares with the reference's
// algorithm on random worlds: random qualification, PLZ, deletions and
// answer times.
func TestCompose_sameResultAsTheSequentialScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		n := rng.IntN(40)
		w := newWorld(n, 0, func(int) bool { return rng.IntN(3) == 0 })
		w.patients.delays = map[int64]time.Duration{}
		for _, c := range w.cands {
			switch rng.IntN(8) {
			case 0:
				delete(w.patients.records, c.PatientID)
			case 1:
				p := w.patients.records[c.PatientID]
				p.PLZ = sp("80331")
				w.patients.records[c.PatientID] = p
			}
			w.patients.delays[c.PatientID] = time.Duration(rng.IntN(200)) * time.Microsecond
		}
		max, conc := 1+rng.IntN(6), 1+rng.IntN(8)
		want, err := sequentialCompose(context.Background(), w.patients, w.dist, therapist(1), "52", w.cands, max)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.composer(max, conc).compose(context.Background(), therapist(1), "52", w.cands, testToday)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(searchIDs(want), searchIDs(got)); diff != "" {
			t.Errorf("round %d (n %d, max %d, concurrency %d) (-sequential +compose):\n%s", round, n, max, conc, diff)
		}
	}
}
