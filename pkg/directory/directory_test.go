package directory_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// world is a fresh database and the fake neighbours behind a directory.
type world struct {
	pool *pgxpool.Pool
	fake *fake.Fake
	dir  *directory.Directory
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool, _ := storetest.New(t)
	f, ncfg := fake.Start(t)
	return &world{pool: pool, fake: f, dir: directory.New(pool, neighbours.NewClients(ncfg), nil)}
}

// search gives patient id an open search, so the copy keeps her.
func (w *world) search(t *testing.T, patientID int64, status string) {
	t.Helper()
	if _, err := w.pool.Exec(context.Background(), `
		INSERT INTO matching_service.platzsuche (patient_id, status) VALUES ($1, $2::suchstatus)`, patientID, status); err != nil {
		t.Fatal(err)
	}
}

func (w *world) storePatient(t *testing.T, f directory.Fetched[neighbours.Patient], cause string) directory.Stored {
	t.Helper()
	var st directory.Stored
	err := store.WithTx(context.Background(), w.pool, func(tx pgx.Tx) error {
		var err error
		st, err = w.dir.StorePatient(context.Background(), tx, f, cause)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (w *world) storeTherapist(t *testing.T, f directory.Fetched[neighbours.Therapist], cause string) directory.Stored {
	t.Helper()
	var st directory.Stored
	err := store.WithTx(context.Background(), w.pool, func(tx pgx.Tx) error {
		var err error
		st, err = w.dir.StoreTherapist(context.Background(), tx, f, cause)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (w *world) copyOf(t *testing.T, id int64) (store.PatientCopy, bool) {
	t.Helper()
	m, err := store.PatientCopies(context.Background(), w.pool, []int64{id})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m[id]
	return c, ok
}

func (w *world) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func str(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestStorePatient_fetchesStoredOutOfOrderOrTwiceLeaveTheNewestState(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	id := w.fake.AddPatient(fake.SamplePatient(nil))
	w.search(t, id, "aktiv")

	older, err := w.dir.FetchPatient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	w.fake.SetPatientFields(id, map[string]any{"bevorzugtes_therapeutengeschlecht": "Weiblich"})
	newer, err := w.dir.FetchPatient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	// The later fetch commits first; the earlier one, finishing late, is dropped.
	if st := w.storePatient(t, newer, "patient.updated"); !st.Stored || !st.Changed || st.Recheck == 0 {
		t.Errorf("newer fetch: %+v, want stored, changed, a re-check", st)
	}
	if st := w.storePatient(t, older, "patient.updated"); st.Stored || st.Changed {
		t.Errorf("older fetch: %+v, want dropped", st)
	}
	// The same event again: stored (the fetch time moves on), no change, no re-check.
	again, err := w.dir.FetchPatient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st := w.storePatient(t, again, "patient.updated"); !st.Stored || st.Changed || st.Recheck != 0 {
		t.Errorf("same record again: %+v, want stored without a change", st)
	}
	c, _ := w.copyOf(t, id)
	if str(c.BevorzugtesTherapeutengeschlecht) != "Weiblich" || c.Removed || !c.FetchedAt.Equal(again.At) {
		t.Errorf("copy %+v, want the newest state fetched at %v", c, again.At)
	}
	if n := w.count(t, `SELECT count(*) FROM matching_service.recheck_request WHERE patient_id = $1`, id); n != 1 {
		t.Errorf("%d re-check requests, want 1 (the one change)", n)
	}
}

func TestFetchPatient_a404RemovesTheCopyAnOutageDoesNot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	id := w.fake.AddPatient(fake.SamplePatient(nil))
	w.search(t, id, "aktiv")
	f, err := w.dir.FetchPatient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	w.storePatient(t, f, "patient.created")

	w.fake.SetDown(fake.PatientService, true)
	_, err = w.dir.FetchPatient(ctx, id)
	if fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("fetch during an outage: %v, want Unavailable", err)
	}
	if c, ok := w.copyOf(t, id); !ok || c.Removed {
		t.Fatalf("copy after an outage: %+v %v, want it kept", c, ok)
	}
	w.fake.SetDown(fake.PatientService, false)

	w.fake.RemovePatient(id)
	gone, err := w.dir.FetchPatient(ctx, id)
	if err != nil || !gone.Gone {
		t.Fatalf("fetch after deletion: %+v %v, want Gone", gone, err)
	}
	if st := w.storePatient(t, gone, "patient.updated"); !st.Changed || st.Recheck == 0 {
		t.Errorf("removal: %+v, want a change with a re-check", st)
	}
	// A fetch from before the deletion, finishing late, does not bring her back.
	if st := w.storePatient(t, f, "patient.updated"); st.Stored {
		t.Errorf("late fetch after the removal: %+v, want dropped", st)
	}
	if c, ok := w.copyOf(t, id); !ok || !c.Removed || c.Vorname != nil {
		t.Errorf("copy %+v, want a tombstone without data", c)
	}
	got, err := w.dir.Fetching().Patients(ctx, []int64{id})
	if err != nil || len(got) != 0 {
		t.Errorf("read of a removed patient: %v %v, want none", got, err)
	}
}

func TestView_fetchesWhatTheCopyLacksOnUseButNotInsideATransaction(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	pid := w.fake.AddPatient(fake.SamplePatient(map[string]any{"vorname": "Ida"}))
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))

	err := store.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := w.dir.Local(tx).Patients(ctx, []int64{pid}); !errors.Is(err, directory.ErrMissing) {
			t.Errorf("local view, patient not copied: %v, want ErrMissing", err)
		}
		if _, err := w.dir.Local(tx).Therapist(ctx, tid); !errors.Is(err, directory.ErrMissing) {
			t.Errorf("local view, therapist not copied: %v, want ErrMissing", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := w.fake.Count(fake.GetPatient) + w.fake.Count(fake.GetTherapist); n != 0 {
		t.Fatalf("a local view called the services %d times", n)
	}

	got, err := w.dir.Fetching().Patients(ctx, []int64{pid, 999})
	if err != nil || len(got) != 1 || str(got[pid].Vorname) != "Ida" {
		t.Fatalf("fetching view: %v %v, want Ida only", got, err)
	}
	if _, err := w.dir.Fetching().Therapist(ctx, 998); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("unknown therapist: %v, want NotFound", err)
	}
	if _, err := w.dir.Fetching().Therapist(ctx, tid); err != nil {
		t.Fatal(err)
	}
	w.fake.ResetCounts()
	// Stored: read again without a call, and without re-check requests.
	if got, err := w.dir.Fetching().Patients(ctx, []int64{pid, 999}); err != nil || len(got) != 1 {
		t.Fatalf("second read: %v %v", got, err)
	}
	if _, err := w.dir.Fetching().Therapist(ctx, tid); err != nil {
		t.Fatal(err)
	}
	if n := len(w.fake.Counts()); n != 0 {
		t.Errorf("second read called the services: %v", w.fake.Counts())
	}
	if n := w.count(t, `SELECT count(*) FROM matching_service.recheck_request`); n != 0 {
		t.Errorf("%d re-check requests from reads", n)
	}
}

func TestDistances_aMissIsAskedOnceAndAnAddressChangeForgetsIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	pid := w.fake.AddPatient(fake.SamplePatient(nil))
	w.search(t, pid, "aktiv")
	f, err := w.dir.FetchPatient(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	w.storePatient(t, f, "patient.created")
	trip := matching.Trip{From: "Invalidenstraße 1, 10115, Berlin", To: "Friedrichstraße 10, 10117, Berlin", Mode: "car"}
	w.fake.SetDistance(trip.From, trip.To, 3.5)

	for range 2 {
		got, err := w.dir.Fetching().Distances(ctx, []matching.Trip{trip})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(map[matching.Trip]matching.Distance{trip: {KM: 3.5, Known: true}}, got); d != "" {
			t.Fatal(d)
		}
	}
	if n := len(w.fake.DistanceQueries()); n != 1 {
		t.Fatalf("%d geocoding calls for two reads, want 1", n)
	}
	err = store.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		got, err := w.dir.Local(tx).Distances(ctx, []matching.Trip{trip})
		if err != nil || !got[trip].Known {
			t.Errorf("local read of a stored distance: %v %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// She moves: the distances from her old address go.
	w.fake.SetPatientFields(pid, map[string]any{"strasse": "Torstraße 5"})
	moved, err := w.dir.FetchPatient(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	w.storePatient(t, moved, "patient.updated")
	if n := w.count(t, `SELECT count(*) FROM matching_service.travel_distance WHERE origin = $1`, trip.From); n != 0 {
		t.Errorf("%d distances from the old address left", n)
	}
}

func TestSync_repairsACopyThatMissedAnEventAndRemovesWhatDisappeared(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	stays := w.fake.AddPatient(fake.SamplePatient(map[string]any{"vorname": "Alt"}))
	deleted := w.fake.AddPatient(fake.SamplePatient(nil))
	done := w.fake.AddPatient(fake.SamplePatient(nil))
	paused := w.fake.AddPatient(fake.SamplePatient(nil))
	w.search(t, stays, "aktiv")
	w.search(t, deleted, "aktiv")
	w.search(t, done, "aktiv")
	w.search(t, paused, "pausiert")
	kept := w.fake.AddTherapist(fake.SampleTherapist(nil))
	leaves := w.fake.AddTherapist(fake.SampleTherapist(nil))

	first, err := w.dir.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(directory.Summary{Checked: 6, Changed: 6}, first); d != "" {
		t.Fatalf("first sync (-want +got):\n%s", d)
	}
	synced, err := store.DirectorySynced(ctx, w.pool)
	if err != nil || !synced {
		t.Fatalf("synced = %v, %v", synced, err)
	}

	// Events that never arrived: a change, a deletion of each, a search that ended.
	w.fake.SetPatientFields(stays, map[string]any{"vorname": "Neu"})
	w.fake.RemovePatient(deleted)
	w.fake.RemoveTherapist(leaves)
	if _, err := w.pool.Exec(ctx, `UPDATE matching_service.platzsuche SET status = 'erfolgreich' WHERE patient_id = $1`, done); err != nil {
		t.Fatal(err)
	}
	w.fake.ResetCounts()
	second, err := w.dir.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(directory.Summary{Checked: 4, Changed: 1, Removed: 3}, second); d != "" {
		t.Errorf("second sync (-want +got):\n%s", d)
	}
	if c, _ := w.copyOf(t, stays); str(c.Vorname) != "Neu" {
		t.Errorf("changed patient: %s, want Neu", str(c.Vorname))
	}
	if c, _ := w.copyOf(t, deleted); !c.Removed {
		t.Errorf("deleted patient still copied")
	}
	if _, ok := w.copyOf(t, done); ok {
		t.Errorf("patient without an open search still copied")
	}
	therapists, err := store.TherapistCopies(ctx, w.pool, []int64{kept, leaves})
	if err != nil {
		t.Fatal(err)
	}
	if therapists[kept].Removed || !therapists[leaves].Removed {
		t.Errorf("therapists kept %v, left %v; want kept live and the other removed", therapists[kept].Removed, therapists[leaves].Removed)
	}
	if d := cmp.Diff(map[fake.Endpoint]int{fake.ListTherapists: 1, fake.GetPatient: 3}, w.fake.Counts()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	// Each change asks for a re-check, as an event would.
	if n := w.count(t, `SELECT count(*) FROM matching_service.recheck_request WHERE cause = 'directory-sync'`); n != 6+1+2 {
		t.Errorf("%d re-check requests, want 9", n)
	}
}

func TestSync_aFailedFetchIsCountedAndRemovesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	pid := w.fake.AddPatient(fake.SamplePatient(nil))
	w.search(t, pid, "aktiv")
	w.fake.AddTherapist(fake.SampleTherapist(nil))
	if _, err := w.dir.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	w.fake.SetDown(fake.PatientService, true)
	w.fake.SetDown(fake.TherapistService, true)
	sum, err := w.dir.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(directory.Summary{Checked: 1, Failed: 2}, sum); d != "" || sum.OK() {
		t.Errorf("sync during an outage (-want +got):\n%s", d)
	}
	if sum.String() != "checked=1 changed=0 removed=0 failed=2" {
		t.Errorf("summary line %q", sum.String())
	}
	if n := w.count(t, `SELECT count(*) FROM matching_service.patient_copy WHERE NOT removed`) +
		w.count(t, `SELECT count(*) FROM matching_service.therapist_copy WHERE NOT removed`); n != 2 {
		t.Errorf("%d live copies after the outage, want both kept", n)
	}
}

func TestSync_twoRunsAtOnceDoNoHarm(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for i := range 300 {
		id := w.fake.AddPatient(fake.SamplePatient(nil))
		w.search(t, id, "aktiv")
		if i%2 == 0 {
			w.fake.AddTherapist(fake.SampleTherapist(nil))
		}
	}
	var wg sync.WaitGroup
	sums := make([]directory.Summary, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { sums[i], errs[i] = w.dir.Sync(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || !sums[i].OK() {
			t.Fatalf("run %d: %v %v", i, sums[i], err)
		}
	}
	// Together they stored each record once as a change: a record one run
	// stored is no change for the other.
	if got := sums[0].Changed + sums[1].Changed; got != 450 {
		t.Errorf("changes %d + %d, want 450 in all", sums[0].Changed, sums[1].Changed)
	}
	if n := w.count(t, `SELECT count(*) FROM matching_service.patient_copy WHERE NOT removed`); n != 300 {
		t.Errorf("%d patient copies, want 300", n)
	}
	if n := w.count(t, `SELECT count(*) FROM matching_service.therapist_copy WHERE NOT removed`); n != 150 {
		t.Errorf("%d therapist copies, want 150", n)
	}
}
