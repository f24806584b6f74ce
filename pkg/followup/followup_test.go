package followup_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/followup"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/runtime/logtest"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var berlin = mustLoad("Europe/Berlin")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// inBerlin is a wall-clock time in Europe/Berlin.
func inBerlin(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, berlin)
}

// world is one test's database, fake neighbours and job.
type world struct {
	t    *testing.T
	pool *pgxpool.Pool
	fake *fake.Fake
	nb   *neighbours.Clients
	logs *logtest.Buffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool, _ := storetest.New(t)
	f, cfg := fake.Start(t)
	return &world{t: t, pool: pool, fake: f, nb: neighbours.NewClients(cfg), logs: &logtest.Buffer{}}
}

// job returns a job with the production defaults (7 days, 10:00, Berlin).
func (w *world) job() *followup.Job {
	return &followup.Job{
		Pool:          w.pool,
		Therapists:    w.nb.Therapists,
		Communication: w.nb.Communication,
		Log:           slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ThresholdDays: 7,
		DefaultTime:   "10:00",
		Location:      berlin,
		Workers:       2,
	}
}

func (w *world) run(job *followup.Job, opt followup.Options) followup.Summary {
	w.t.Helper()
	sum, err := job.Run(context.Background(), opt)
	if err != nil {
		w.t.Fatalf("run: %v", err)
	}
	return sum
}

// therapist adds a therapist with the given phone hours (nil: none listed).
func (w *world) therapist(erreichbarkeit any) int64 {
	return w.fake.AddTherapist(fake.SampleTherapist(map[string]any{"telefonische_erreichbarkeit": erreichbarkeit}))
}

// anfrage is the state of a therapeutenanfrage as the job sees it.
type anfrage struct {
	therapist int64
	sent      time.Time // zero: unsent
	answered  bool
	cancelled bool
	phoneCall int64 // 0: none
}

// add inserts the anfrage; times are stored as naive UTC like the reference.
func (w *world) add(a anfrage) int64 {
	w.t.Helper()
	var sent, stamp any
	if !a.sent.IsZero() {
		sent = a.sent.UTC()
		stamp = a.sent.UTC().Add(time.Hour)
	}
	var answered, cancelled, phone any
	if a.answered {
		answered = stamp
	}
	if a.cancelled {
		cancelled = stamp
	}
	if a.phoneCall != 0 {
		phone = a.phoneCall
	}
	var id int64
	err := w.pool.QueryRow(context.Background(), `
INSERT INTO matching_service.therapeutenanfrage
    (therapist_id, anfragegroesse, gesendet_datum, antwort_datum, storniert_datum, phone_call_id)
VALUES ($1, 3, $2, $3, $4, $5) RETURNING id`, a.therapist, sent, answered, cancelled, phone).Scan(&id)
	if err != nil {
		w.t.Fatalf("insert anfrage: %v", err)
	}
	return id
}

// phoneCallID reads the stored phone_call_id (0 for NULL).
func (w *world) phoneCallID(anfrageID int64) int64 {
	w.t.Helper()
	var id *int64
	if err := w.pool.QueryRow(context.Background(),
		`SELECT phone_call_id FROM matching_service.therapeutenanfrage WHERE id = $1`, anfrageID).Scan(&id); err != nil {
		w.t.Fatal(err)
	}
	if id == nil {
		return 0
	}
	return *id
}

// outboxRow is one emitted event as the relay will publish it.
type outboxRow struct {
	Type    string
	Key     string
	Payload map[string]any
}

func (w *world) outbox() []outboxRow {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(),
		`SELECT event_type, partition_key, payload FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var raw []byte
		if err := rows.Scan(&r.Type, &r.Key, &raw); err != nil {
			w.t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &r.Payload); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// call is a phone call the fake received, as the communication service stored it.
type call struct {
	TherapistID          int64  `json:"therapist_id"`
	TherapeutenanfrageID int64  `json:"therapeutenanfrage_id"`
	GeplantesDatum       string `json:"geplantes_datum"`
	GeplanteZeit         string `json:"geplante_zeit"`
	Notizen              string `json:"notizen"`
}

func (w *world) calls() []call {
	w.t.Helper()
	var out []call
	for _, r := range w.fake.PhoneCalls() {
		var c call
		if err := r.Decode(&c); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// callsPerAnfrage counts the received calls of each anfrage.
func (w *world) callsPerAnfrage() map[int64]int {
	out := map[int64]int{}
	for _, c := range w.calls() {
		out[c.TherapeutenanfrageID]++
	}
	return out
}

// The threshold counts calendar days in Europe/Berlin at the same clock
// time: across the spring change a week has 167 hours and is still a week;
// 6 days 23 hours on the calendar are not.
func TestRun_followsUpAfterSevenCalendarDaysInBerlin(t *testing.T) {
	cases := map[string]struct {
		now  time.Time
		sent time.Time
		due  bool
	}{
		"6 days 23 h → no call": {
			now: inBerlin(2025, 3, 17, 9, 0), sent: inBerlin(2025, 3, 10, 10, 0), due: false,
		},
		"exactly 7 days → call": {
			now: inBerlin(2025, 3, 17, 9, 0), sent: inBerlin(2025, 3, 10, 9, 0), due: true,
		},
		"7 calendar days across the spring DST change (167 h) → call": {
			now: inBerlin(2025, 3, 31, 9, 0), sent: inBerlin(2025, 3, 24, 9, 0), due: true,
		},
		"6 days 23 h on the calendar across the spring change (166 h) → no call": {
			now: inBerlin(2025, 3, 31, 9, 0), sent: inBerlin(2025, 3, 24, 10, 0), due: false,
		},
		"168 h across the autumn change are 6 days 23 h on the calendar → no call": {
			now: inBerlin(2025, 11, 1, 9, 0), sent: inBerlin(2025, 10, 25, 10, 0), due: false,
		},
		"7 calendar days across the autumn change (169 h) → call": {
			now: inBerlin(2025, 11, 1, 9, 0), sent: inBerlin(2025, 10, 25, 9, 0), due: true,
		},
		"sent late in the evening, a week and 1 minute later → call": {
			now: inBerlin(2025, 3, 17, 23, 31), sent: inBerlin(2025, 3, 10, 23, 30), due: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			id := w.add(anfrage{therapist: w.therapist(nil), sent: tc.sent})
			sum := w.run(w.job(), followup.Options{Now: tc.now})

			if got := w.phoneCallID(id) != 0; got != tc.due {
				t.Errorf("sent %s, run %s: phone call stored = %v, want %v",
					tc.sent.Format(time.RFC3339), tc.now.Format(time.RFC3339), got, tc.due)
			}
			want := followup.Summary{}
			if tc.due {
				want.Scheduled = 1
			}
			if sum != want {
				t.Errorf("summary %s, want %s", sum, want)
			}
			if n := len(w.calls()); (n == 1) != tc.due || n > 1 {
				t.Errorf("calls created = %d", n)
			}
		})
	}
}

func TestRun_skipsAnsweredCancelledUnsentAndAlreadyCalledAnfragen(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 1, 9, 0)
	old := now.AddDate(0, 0, -10)
	th := w.therapist(nil)
	due := w.add(anfrage{therapist: th, sent: old})
	untouched := map[string]int64{
		"answered":  w.add(anfrage{therapist: th, sent: old, answered: true}),
		"cancelled": w.add(anfrage{therapist: th, sent: old, cancelled: true}),
		"unsent":    w.add(anfrage{therapist: th}),
		"called":    w.add(anfrage{therapist: th, sent: old, phoneCall: 555}),
	}

	sum := w.run(w.job(), followup.Options{Now: now})

	if want := (followup.Summary{Scheduled: 1}); sum != want {
		t.Errorf("summary %s, want %s", sum, want)
	}
	if got := w.callsPerAnfrage(); !cmp.Equal(got, map[int64]int{due: 1}) {
		t.Errorf("calls per anfrage = %v, want one for anfrage %d only", got, due)
	}
	for what, id := range untouched {
		want := int64(0)
		if what == "called" {
			want = 555
		}
		if got := w.phoneCallID(id); got != want {
			t.Errorf("%s anfrage: phone_call_id = %d, want %d", what, got, want)
		}
	}
	if n := len(w.outbox()); n != 1 {
		t.Errorf("outbox rows = %d, want 1", n)
	}
}

// The call goes to the next working day, at the start of the therapist's
// first phone hours that weekday, else at DEFAULT_PHONE_CALL_TIME; the
// request and the event carry exactly that.
func TestRun_callsOnTheNextWorkingDayInTheTherapistsSlot(t *testing.T) {
	hours := map[string]any{
		"montag":   []any{"14:00-16:00", "08:00-09:00"},
		"mittwoch": []any{"11:30 - 12:00"},
		"freitag":  []any{"08:00-09:00"},
	}
	cases := map[string]struct {
		now            time.Time
		erreichbarkeit any
		wantDate       string
		wantTime       string
	}{
		"friday run → monday, monday's first slot": {inBerlin(2025, 4, 4, 9, 0), hours, "2025-04-07", "14:00"},
		"saturday run → monday":                    {inBerlin(2025, 4, 5, 9, 0), hours, "2025-04-07", "14:00"},
		"sunday run → monday":                      {inBerlin(2025, 4, 6, 9, 0), hours, "2025-04-07", "14:00"},
		"tuesday run → wednesday's slot":           {inBerlin(2025, 4, 1, 9, 0), hours, "2025-04-02", "11:30"},
		"monday run → tuesday, no slot: default":   {inBerlin(2025, 3, 31, 9, 0), hours, "2025-04-01", "10:00"},
		"no phone hours at all: default":           {inBerlin(2025, 4, 4, 9, 0), nil, "2025-04-07", "10:00"},
		"thursday run → friday's slot":             {inBerlin(2025, 4, 3, 9, 0), hours, "2025-04-04", "08:00"},
		"the date is Berlin's, not UTC's":          {inBerlin(2025, 4, 4, 0, 30), hours, "2025-04-07", "14:00"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			th := w.therapist(tc.erreichbarkeit)
			id := w.add(anfrage{therapist: th, sent: tc.now.AddDate(0, 0, -8)})

			w.run(w.job(), followup.Options{Now: tc.now})

			wantCall := []call{{
				TherapistID: th, TherapeutenanfrageID: id,
				GeplantesDatum: tc.wantDate, GeplanteZeit: tc.wantTime,
				Notizen: "Follow-up für Anfrage A" + itoa(id),
			}}
			if diff := cmp.Diff(wantCall, w.calls()); diff != "" {
				t.Errorf("POST /api/phone-calls (-want +got):\n%s", diff)
			}
			callID := w.phoneCallID(id)
			if callID == 0 {
				t.Fatal("phone_call_id not stored")
			}
			wantEvents := []outboxRow{{
				Type: "therapeutenanfrage.follow_up_scheduled",
				Key:  itoa(id),
				Payload: map[string]any{
					"anfrage_id":     float64(id),
					"therapist_id":   float64(th),
					"phone_call_id":  float64(callID),
					"scheduled_date": tc.wantDate,
					"scheduled_time": tc.wantTime,
				},
			}}
			if diff := cmp.Diff(wantEvents, w.outbox()); diff != "" {
				t.Errorf("outbox (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRun_twoRunsAtTheSameTimeCreateOneCallPerAnfrage(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 1, 9, 0)
	const n = 40
	want := map[int64]int{}
	for i := 0; i < n; i++ {
		id := w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8).Add(time.Duration(i%5) * time.Minute)})
		want[id] = 1
	}
	// A round trip long enough for the runs to overlap on every anfrage.
	w.fake.SetLatency(3 * time.Millisecond)

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		sums  [2]followup.Summary
		errs  [2]error
	)
	for i := range sums {
		job := w.job()
		job.Workers = 3
		job.PageSize = 7 // several pages, so the runs interleave their selections too
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sums[i], errs[i] = job.Run(context.Background(), followup.Options{Now: now})
		}()
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if got := w.callsPerAnfrage(); !cmp.Equal(got, want) {
		t.Errorf("calls per anfrage: %v, want exactly one for each of the %d anfragen", got, n)
	}
	total := sums[0].Scheduled + sums[1].Scheduled
	if total != n || sums[0].Adopted+sums[1].Adopted != 0 || sums[0].Failed+sums[1].Failed != 0 {
		t.Errorf("summaries %s | %s: want %d scheduled in total, nothing adopted or failed", sums[0], sums[1], n)
	}
	if len(w.outbox()) != n {
		t.Errorf("outbox rows = %d, want %d", len(w.outbox()), n)
	}
	t.Logf("run 1: %s; run 2: %s", sums[0], sums[1])
}

// A run killed after the communication service created the call but before
// phone_call_id was committed leaves a call without a link; the next run
// finds it by therapeutenanfrage_id and adopts it.
func TestRun_adoptsTheCallOfAKilledRunInsteadOfCreatingASecond(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 4, 9, 0)
	th := w.therapist(nil)
	id := w.add(anfrage{therapist: th, sent: now.AddDate(0, 0, -7)})
	other := w.add(anfrage{therapist: th, sent: now.AddDate(0, 0, -9)})
	// What the killed run got created (planned another day and time than
	// this run would choose: Monday 10:00).
	orphan := w.fake.AddPhoneCall(map[string]any{
		"therapist_id": th, "therapeutenanfrage_id": id,
		"geplantes_datum": "2025-04-08", "geplante_zeit": "15:30",
		"notizen": "Follow-up für Anfrage A" + itoa(id),
	})

	sum := w.run(w.job(), followup.Options{Now: now})

	if want := (followup.Summary{Scheduled: 1, Adopted: 1}); sum != want {
		t.Errorf("summary %s, want %s", sum, want)
	}
	if got := w.phoneCallID(id); got != orphan {
		t.Errorf("phone_call_id = %d, want the existing call %d", got, orphan)
	}
	if got := w.callsPerAnfrage(); !cmp.Equal(got, map[int64]int{other: 1}) {
		t.Errorf("calls created = %v, want only one for anfrage %d", got, other)
	}
	events := w.outbox()
	if len(events) != 2 {
		t.Fatalf("outbox rows = %d, want 2 (adopted calls are announced too)", len(events))
	}
	found := false
	for _, e := range events {
		if e.Key == itoa(id) {
			found = true
			if e.Payload["phone_call_id"] != float64(orphan) || e.Payload["scheduled_date"] != "2025-04-08" || e.Payload["scheduled_time"] != "15:30" {
				t.Errorf("event of the adopted call: %v, want call %d on 2025-04-08 at 15:30", e.Payload, orphan)
			}
		}
	}
	if !found {
		t.Errorf("no event for the adopted call: %v", events)
	}

	// And a rerun finds nothing left to do.
	if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{}) {
		t.Errorf("rerun summary %s, want nothing", sum)
	}
	if n := w.fake.Count(fake.CreatePhoneCall); n != 1 {
		t.Errorf("POST /api/phone-calls requests = %d, want 1", n)
	}
}

// The event of an adopted call says when that call is planned, as the
// communication service lists it, not when this run would have planned a new
// one; only what the service left empty is chosen as for a new call.
func TestRun_announcesAnAdoptedCallWithItsOwnDateAndTime(t *testing.T) {
	hours := map[string]any{"montag": []any{"14:00-16:00"}, "dienstag": []any{"11:00-12:00"}}
	// The killed run was on Friday 2025-04-04 and planned Monday; the rerun
	// is on Monday, when a new call would go to Tuesday.
	now := inBerlin(2025, 4, 7, 9, 0)
	cases := map[string]struct {
		datum, zeit        any // the listed call's geplantes_datum and geplante_zeit
		wantDate, wantTime string
	}{
		"the call's own date and time":                                {"2025-04-07", "14:00", "2025-04-07", "14:00"},
		"a time off the therapist's hours is kept too":                {"2025-04-09", "08:15", "2025-04-09", "08:15"},
		"no date or time listed: this run's choice":                   {nil, nil, "2025-04-08", "11:00"},
		"no time listed: the therapist's hours on the call's own day": {"2025-04-07", nil, "2025-04-07", "14:00"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			th := w.therapist(hours)
			id := w.add(anfrage{therapist: th, sent: now.AddDate(0, 0, -10)})
			orphan := w.fake.AddPhoneCall(map[string]any{
				"therapist_id": th, "therapeutenanfrage_id": id,
				"geplantes_datum": tc.datum, "geplante_zeit": tc.zeit,
			})

			if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{Adopted: 1}) {
				t.Errorf("summary %s, want adopted=1", sum)
			}
			wantEvents := []outboxRow{{
				Type: "therapeutenanfrage.follow_up_scheduled",
				Key:  itoa(id),
				Payload: map[string]any{
					"anfrage_id":     float64(id),
					"therapist_id":   float64(th),
					"phone_call_id":  float64(orphan),
					"scheduled_date": tc.wantDate,
					"scheduled_time": tc.wantTime,
				},
			}}
			if diff := cmp.Diff(wantEvents, w.outbox()); diff != "" {
				t.Errorf("outbox (-want +got):\n%s", diff)
			}
			if n := w.fake.Count(fake.CreatePhoneCall); n != 0 {
				t.Errorf("POST /api/phone-calls requests = %d, want none", n)
			}
		})
	}
}

func TestRun_oneFailingAnfrageDoesNotStopTheOthers(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 1, 9, 0)
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8).Add(time.Duration(i) * time.Minute)}))
	}
	unknown := w.add(anfrage{therapist: 99999, sent: now.AddDate(0, 0, -8).Add(30 * time.Minute)})
	w.fake.FailNext(fake.CreatePhoneCall, 1, 500)

	job := w.job()
	job.Workers = 1 // the first POST is the one that fails
	sum := w.run(job, followup.Options{Now: now})

	if want := (followup.Summary{Scheduled: 4, Failed: 2}); sum != want {
		t.Errorf("summary %s, want %s", sum, want)
	}
	if sum.OK() {
		t.Error("a run with failures reports OK (exit status 0)")
	}
	if got := w.phoneCallID(ids[0]); got != 0 {
		t.Errorf("the anfrage whose call failed has phone_call_id %d", got)
	}
	for _, id := range ids[1:] {
		if w.phoneCallID(id) == 0 {
			t.Errorf("anfrage %d was not scheduled after another one failed", id)
		}
	}
	if len(w.outbox()) != 4 {
		t.Errorf("outbox rows = %d, want 4: none for the failed anfragen", len(w.outbox()))
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "anfrage_id="+itoa(unknown)) || !strings.Contains(logs, "follow-up failed") {
		t.Errorf("the unknown therapist's anfrage is not logged as failed:\n%s", logs)
	}

	// The next run picks the communication failure up again.
	if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{Scheduled: 1, Failed: 1}) {
		t.Errorf("rerun summary %s, want scheduled=1 failed=1", sum)
	}
}

// When the communication service is down, every anfrage would wait for its
// own failure; the run stops after a few in a row and leaves the rest.
func TestRun_stopsEarlyWhenTheCommunicationServiceIsDown(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 1, 9, 0)
	for i := 0; i < 30; i++ {
		w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8)})
	}
	w.fake.SetDown(fake.CommunicationService, true)
	job := w.job()
	job.Workers = 1
	job.AbortAfter = 5

	sum, err := job.Run(context.Background(), followup.Options{Now: now})
	if !errors.Is(err, followup.ErrAborted) {
		t.Fatalf("err = %v, want ErrAborted", err)
	}
	if want := (followup.Summary{Failed: 5}); sum != want {
		t.Errorf("summary %s, want %s", sum, want)
	}

	w.fake.SetDown(fake.CommunicationService, false)
	if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{Scheduled: 30}) {
		t.Errorf("after the outage: %s, want scheduled=30", sum)
	}
}

func TestRun_dryRunChangesNothing(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 4, 9, 0)
	th := w.therapist(map[string]any{"montag": []any{"15:00-16:00"}})
	toSchedule := w.add(anfrage{therapist: th, sent: now.AddDate(0, 0, -8)})
	toAdopt := w.add(anfrage{therapist: th, sent: now.AddDate(0, 0, -8)})
	w.fake.AddPhoneCall(map[string]any{"therapist_id": th, "therapeutenanfrage_id": toAdopt,
		"geplantes_datum": "2025-04-08", "geplante_zeit": "09:45"})

	sum := w.run(w.job(), followup.Options{Now: now, DryRun: true})

	if want := (followup.Summary{Scheduled: 1, Adopted: 1, DryRun: true}); sum != want {
		t.Errorf("summary %s, want %s", sum, want)
	}
	if sum.String() != "scheduled=1 adopted=1 failed=0 skipped=0 dry_run=true" {
		t.Errorf("summary line %q", sum.String())
	}
	if n := w.fake.Count(fake.CreatePhoneCall); n != 0 {
		t.Errorf("a dry run created %d calls", n)
	}
	for _, id := range []int64{toSchedule, toAdopt} {
		if got := w.phoneCallID(id); got != 0 {
			t.Errorf("a dry run stored phone_call_id %d on anfrage %d", got, id)
		}
	}
	if n := len(w.outbox()); n != 0 {
		t.Errorf("a dry run wrote %d outbox rows", n)
	}
	logs := w.logs.String()
	for _, want := range []string{
		`would schedule a follow-up call" anfrage_id=` + itoa(toSchedule),
		"scheduled_date=2025-04-07 scheduled_time=15:00",
		`would adopt the existing follow-up call" anfrage_id=` + itoa(toAdopt),
		"scheduled_date=2025-04-08 scheduled_time=09:45",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("dry-run log lacks %q:\n%s", want, logs)
		}
	}

	// The real run afterwards does it.
	if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{Scheduled: 1, Adopted: 1}) {
		t.Errorf("real run after the dry run: %s", sum)
	}
}

func TestRun_pagesThroughMoreAnfragenThanOnePage(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 1, 9, 0)
	th := w.therapist(nil)
	want := map[int64]int{}
	for i := 0; i < 23; i++ {
		// Equal timestamps across page boundaries, too.
		want[w.add(anfrage{therapist: th, sent: now.AddDate(0, 0, -8-i/4)})] = 1
	}
	job := w.job()
	job.PageSize = 4
	if sum := w.run(job, followup.Options{Now: now}); sum != (followup.Summary{Scheduled: 23}) {
		t.Errorf("summary %s", sum)
	}
	if got := w.callsPerAnfrage(); !cmp.Equal(got, want) {
		t.Errorf("calls per anfrage %v", got)
	}
}

func TestParseAsOf_keepsTheClockTimeOnThatDate(t *testing.T) {
	now := inBerlin(2025, 4, 1, 9, 15)
	got, err := followup.ParseAsOf("2025-03-28", now, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if want := inBerlin(2025, 3, 28, 9, 15); !got.Equal(want) {
		t.Errorf("ParseAsOf = %s, want %s", got, want)
	}
	for _, bad := range []string{"", "28.03.2025", "2025-3-28", "2025-02-30"} {
		if _, err := followup.ParseAsOf(bad, now, berlin); err == nil {
			t.Errorf("ParseAsOf(%q) accepted", bad)
		}
	}
}

func TestRun_asOfAnEarlierDateSelectsAndSchedulesAsOnThatDay(t *testing.T) {
	w := newWorld(t)
	th := w.therapist(nil)
	early := w.add(anfrage{therapist: th, sent: inBerlin(2025, 3, 20, 9, 0)})
	late := w.add(anfrage{therapist: th, sent: inBerlin(2025, 3, 25, 9, 0)})
	asOf, err := followup.ParseAsOf("2025-03-28", inBerlin(2025, 4, 10, 9, 0), berlin)
	if err != nil {
		t.Fatal(err)
	}

	w.run(w.job(), followup.Options{Now: asOf})

	if w.phoneCallID(early) == 0 || w.phoneCallID(late) != 0 {
		t.Errorf("as of 2025-03-28: early called = %v, late called = %v; want true, false",
			w.phoneCallID(early) != 0, w.phoneCallID(late) != 0)
	}
	if c := w.calls(); len(c) != 1 || c[0].GeplantesDatum != "2025-03-31" {
		t.Errorf("calls %+v, want one on Monday 2025-03-31", c)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// relayRecorder stands in for the outbox publisher: it records when it was
// asked to relay and how many events were committed in the outbox then.
type relayRecorder struct {
	w         *world
	committed []int
}

func (r *relayRecorder) Relay(ctx context.Context) (int, error) {
	n := len(r.w.outbox())
	r.committed = append(r.committed, n)
	return n, nil
}

func TestRun_publishesTheOutboxAfterARunThatWroteEvents(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 1, 9, 0)
	for i := 0; i < 3; i++ {
		w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8)})
	}
	rec := &relayRecorder{w: w}
	job := w.job()
	job.Outbox = rec

	w.run(job, followup.Options{Now: now, DryRun: true})
	if len(rec.committed) != 0 {
		t.Errorf("a dry run relayed the outbox")
	}
	w.run(job, followup.Options{Now: now})
	if !cmp.Equal(rec.committed, []int{3}) {
		t.Errorf("relays with committed events %v, want one relay after all 3 were committed", rec.committed)
	}
	w.run(job, followup.Options{Now: now})
	if len(rec.committed) != 1 {
		t.Errorf("a run that wrote nothing relayed the outbox")
	}
}

// A run's changes record the run as their cause (job follow-up and the
// run's id) in each of its transactions, and so does the event it emits.
func TestRun_recordsTheRunAsTheCauseOfItsChanges(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 3, 17, 9, 0)
	id := w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8)})
	w.run(w.job(), followup.Options{Now: now, RunID: "run-7"})

	var causes []string
	rows, err := w.pool.Query(context.Background(), `
		SELECT cause::text FROM matching_service.history WHERE anfrage_id = $1 AND op = 'UPDATE'
		UNION ALL
		SELECT cause::text FROM matching_service.emitted_events WHERE partition_key = $1::text`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		causes = append(causes, c)
	}
	// The claim, the recorded call and its end, and the event.
	want := `{"job": "follow-up", "kind": "job", "run_id": "run-7"}`
	if len(causes) < 2 {
		t.Fatalf("causes %q, want the changes' and the event's", causes)
	}
	for _, c := range causes {
		if c != want {
			t.Errorf("causes of the call's changes and event: %q, want each %s", causes, want)
			break
		}
	}
}
