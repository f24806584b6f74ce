package neighbours_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

func start(t *testing.T) (*fake.Fake, *neighbours.Clients) {
	t.Helper()
	f, cfg := fake.Start(t)
	return f, neighbours.NewClients(cfg)
}

// post seeds the fake over HTTP, as the reference's tests seed the real services.
func post(t *testing.T, base, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

func TestPatient_readsTypedFieldsAndKeepsTheWholeRecord(t *testing.T) {
	f, cfg := fake.Start(t)
	c := neighbours.NewClients(cfg)
	created := post(t, cfg.PatientURL, "/api/patients", fake.SamplePatient(map[string]any{
		"plz": "52062", "raeumliche_verfuegbarkeit": map[string]any{"max_km": nil}, "lieblingsfarbe": "blau",
	}))
	id := int64(created["id"].(float64))

	p, err := c.Patients.Patient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != id || *p.PLZ != "52062" || *p.Vorname != "Max" || *p.ErfahrungMitPsychotherapie != false {
		t.Errorf("patient = %+v", p)
	}
	if p.LetzteSitzungVorherigePsychotherapie != nil {
		t.Errorf("letzte_sitzung = %q, want nil", *p.LetzteSitzungVorherigePsychotherapie)
	}
	if got := string(p.RaeumlicheVerfuegbarkeit); got != `{"max_km":null}` {
		t.Errorf("raeumliche_verfuegbarkeit = %s", got)
	}
	var raw map[string]any
	if err := json.Unmarshal(p.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.Patient(id)
	if diff := cmp.Diff(stored, raw); diff != "" {
		t.Errorf("Raw differs from the stored record (-stored +raw):\n%s", diff)
	}
	if raw["lieblingsfarbe"] != "blau" || raw["hausarzt"] != nil {
		t.Errorf("Raw lacks the unknown key or the null known one: %v", raw)
	}
}

func TestReads_missingRecordIsNotFound(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	_, errP := c.Patients.Patient(ctx, 404)
	_, errT := c.Therapists.Therapist(ctx, 405)
	errW := c.Therapists.SetNextContact(ctx, 406, "2030-01-01")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errP, "Patient 404 not found"},
		{errT, "Therapist 405 not found"},
		{errW, "Therapist 406 not found"},
	} {
		if fault.KindOf(tc.err) != fault.NotFound || fault.Status(tc.err) != http.StatusNotFound {
			t.Errorf("%v: kind %v, want NotFound", tc.err, fault.KindOf(tc.err))
		}
		if fe := fault.As(tc.err); fe == nil || fe.Message != tc.want {
			t.Errorf("message of %v, want %q", tc.err, tc.want)
		}
	}
}

// closedURL returns a URL on which nothing listens.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func TestEveryMethod_outageIsUnavailableNeverNotFound(t *testing.T) {
	calls := map[string]struct {
		service string
		call    func(context.Context, *neighbours.Clients) error
	}{
		"Patient": {fake.PatientService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Patients.Patient(ctx, 1)
			return err
		}},
		"Therapist": {fake.TherapistService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Therapists.Therapist(ctx, 1)
			return err
		}},
		"ActiveInPLZPrefix": {fake.TherapistService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Therapists.ActiveInPLZPrefix(ctx, "10")
			return err
		}},
		"SetNextContact": {fake.TherapistService, func(ctx context.Context, c *neighbours.Clients) error {
			return c.Therapists.SetNextContact(ctx, 1, "2030-01-01")
		}},
		"CreateEmail": {fake.CommunicationService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Communication.CreateEmail(ctx, neighbours.Email{TherapistID: 1, Betreff: "b", InhaltMarkdown: "x", EmpfaengerEmail: "a@b", EmpfaengerName: "A"})
			return err
		}},
		"CreatePhoneCall": {fake.CommunicationService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Communication.CreatePhoneCall(ctx, neighbours.PhoneCall{TherapistID: 1, TherapeutenanfrageID: 2, GeplantesDatum: "2030-01-02", GeplanteZeit: "10:00"})
			return err
		}},
		"PhoneCallsForAnfrage": {fake.CommunicationService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Communication.PhoneCallsForAnfrage(ctx, 2)
			return err
		}},
		"EmailsToTherapist": {fake.CommunicationService, func(ctx context.Context, c *neighbours.Clients) error {
			_, err := c.Communication.EmailsToTherapist(ctx, 1)
			return err
		}},
		"DistanceKM": {fake.GeocodingService, func(ctx context.Context, c *neighbours.Clients) error {
			_, _, err := c.Distances.DistanceKM(ctx, neighbours.DistanceQuery{Origin: "10115 Berlin", Destination: "10117 Berlin"})
			return err
		}},
	}
	serviceName := map[string]string{
		fake.PatientService: "Patient", fake.TherapistService: "Therapist",
		fake.CommunicationService: "Communication", fake.GeocodingService: "Geocoding",
	}
	outages := map[string]func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string){
		"down (503)": func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string) {
			f.SetDown(service, true)
		},
		"500 on every endpoint": func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string) {
			for _, ep := range []fake.Endpoint{fake.GetPatient, fake.GetTherapist, fake.ListTherapists, fake.UpdateTherapist,
				fake.CreateEmail, fake.CreatePhoneCall, fake.ListPhoneCalls, fake.ListEmails, fake.CalculateDistance} {
				f.FailNext(ep, 1, http.StatusInternalServerError)
			}
		},
		"connection dropped": func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string) {
			for _, ep := range []fake.Endpoint{fake.GetPatient, fake.GetTherapist, fake.ListTherapists, fake.UpdateTherapist,
				fake.CreateEmail, fake.CreatePhoneCall, fake.ListPhoneCalls, fake.ListEmails, fake.CalculateDistance} {
				f.FailNext(ep, 1, 0)
			}
		},
		"slower than NEIGHBOUR_TIMEOUT": func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string) {
			f.SetLatency(2 * time.Second)
			cfg.Timeout = 30 * time.Millisecond
		},
		"nothing listening": func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string) {
			u := closedURL(t)
			*cfg = config.Neighbours{PatientURL: u, TherapistURL: u, CommunicationURL: u, GeocodingURL: u, Timeout: time.Second}
		},
		"URL not configured": func(t *testing.T, f *fake.Fake, cfg *config.Neighbours, service string) {
			*cfg = config.Neighbours{Timeout: time.Second}
		},
	}
	for oname, outage := range outages {
		for cname, tc := range calls {
			t.Run(oname+"/"+cname, func(t *testing.T) {
				f, cfg := fake.Start(t)
				f.AddPatient(fake.SamplePatient(map[string]any{"id": 1}))
				f.AddTherapist(fake.SampleTherapist(map[string]any{"id": 1}))
				outage(t, f, &cfg, tc.service)
				err := tc.call(context.Background(), neighbours.NewClients(cfg))
				if fault.KindOf(err) != fault.Unavailable || fault.Status(err) != http.StatusServiceUnavailable {
					t.Fatalf("err = %v (kind %v), want Unavailable", err, fault.KindOf(err))
				}
				want := serviceName[tc.service] + " service unavailable"
				if fe := fault.As(err); fe.Message != want {
					t.Errorf("message = %q, want %q", fe.Message, want)
				}
			})
		}
	}
}

func TestCallerCancellation_isNotAnOutage(t *testing.T) {
	f, c := start(t)
	f.AddPatient(fake.SamplePatient(map[string]any{"id": 1}))
	f.SetLatency(2 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := c.Patients.Patient(ctx, 1)
	if !errors.Is(err, context.Canceled) || fault.KindOf(err) == fault.Unavailable {
		t.Fatalf("err = %v, want context.Canceled and not Unavailable", err)
	}
}

func TestActiveInPLZPrefix_followsEveryPageBeyondTheReferencesThousand(t *testing.T) {
	for _, bare := range []bool{false, true} {
		t.Run(fmt.Sprintf("bare lists %v", bare), func(t *testing.T) {
			f, c := start(t)
			var want []int64
			for i := 0; i < 2001; i++ {
				id := f.AddTherapist(fake.SampleTherapist(map[string]any{"plz": fmt.Sprintf("10%03d", i%1000), "nachname": fmt.Sprint("T", i)}))
				want = append(want, id)
				if i%100 == 0 { // noise: other prefix, other status
					f.AddTherapist(fake.SampleTherapist(map[string]any{"plz": "20095"}))
					f.AddTherapist(fake.SampleTherapist(map[string]any{"plz": "10115", "status": "gesperrt"}))
				}
			}
			f.SetBareLists(bare)
			got, err := c.Therapists.ActiveInPLZPrefix(context.Background(), "10")
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]int64, len(got))
			for i, th := range got {
				ids[i] = th.ID
				if th.Raw == nil || *th.Status != "aktiv" {
					t.Fatalf("therapist %+v", th)
				}
			}
			if diff := cmp.Diff(want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if n := f.Count(fake.ListTherapists); n != 3 {
				t.Errorf("list requests = %d, want 3 pages of 1000", n)
			}
		})
	}
}

func TestActiveInPLZPrefix_emptyPrefixListIsEmpty(t *testing.T) {
	f, c := start(t)
	f.AddTherapist(fake.SampleTherapist(nil))
	got, err := c.Therapists.ActiveInPLZPrefix(context.Background(), "99")
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want none", got, err)
	}
}

func TestTherapist_readsTheFieldsCompositionUses(t *testing.T) {
	f, c := start(t)
	id := f.AddTherapist(fake.SampleTherapist(map[string]any{"alter_min": 18, "alter_max": 65, "naechster_kontakt_moeglich": "2030-02-03"}))
	th, err := c.Therapists.Therapist(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if *th.AlterMin != 18 || *th.AlterMax != 65 || *th.NaechsterKontaktMoeglich != "2030-02-03" ||
		*th.Psychotherapieverfahren != "Verhaltenstherapie" || !*th.PotenziellVerfuegbar || *th.Titel != "Dr." {
		t.Errorf("therapist = %+v", th)
	}
	if string(th.TelefonischeErreichbarkeit) != `{"donnerstag":["14:00-15:00"],"montag":["10:00-12:00"]}` {
		t.Errorf("telefonische_erreichbarkeit = %s", th.TelefonischeErreichbarkeit)
	}
}

func TestSetNextContact_writesTheDateAndReportsRejection(t *testing.T) {
	f, c := start(t)
	id := f.AddTherapist(fake.SampleTherapist(nil))
	ctx := context.Background()
	if err := c.Therapists.SetNextContact(ctx, id, "2030-03-04"); err != nil {
		t.Fatal(err)
	}
	rec, _ := f.Therapist(id)
	if rec["naechster_kontakt_moeglich"] != "2030-03-04" {
		t.Errorf("stored %v", rec["naechster_kontakt_moeglich"])
	}
	err := c.Therapists.SetNextContact(ctx, id, "04.03.2030")
	var se *neighbours.StatusError
	if !errors.As(err, &se) || se.Status != 400 || se.Message != "Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD" {
		t.Fatalf("err = %#v", err)
	}
	if fault.Status(err) != http.StatusInternalServerError || fault.Permanent(err) {
		t.Errorf("a rejected request is our fault: status %d", fault.Status(err))
	}
}

func TestCreateEmail_sendsTheBodyTheFakeRecords(t *testing.T) {
	f, c := start(t)
	e := neighbours.Email{
		TherapistID: 7, Betreff: "Suche Psychotherapieplätze - Ref: A12", InhaltMarkdown: "Sehr geehrte Frau Dr. Musterfrau,\n\nText.",
		EmpfaengerEmail: "praxis@example.org", EmpfaengerName: "Dr. Erika Musterfrau", AddLegalFooter: true, Status: "In_Warteschlange",
	}
	id, err := c.Communication.CreateEmail(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Emails()
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("emails = %+v, id %d", got, id)
	}
	var sent neighbours.Email
	if err := got[0].Decode(&sent); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, sent); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if got[0].Body["therapist_id"] != float64(7) || got[0].Body["add_legal_footer"] != true {
		t.Errorf("decoded body %v", got[0].Body)
	}
	if got[0].Record["status"] != "In_Warteschlange" || got[0].Record["in_warteschlange_am"] == nil {
		t.Errorf("record %v", got[0].Record)
	}
}

func TestCreateEmail_rejectedRequestCarriesTheServiceMessage(t *testing.T) {
	f, c := start(t)
	_, err := c.Communication.CreateEmail(context.Background(), neighbours.Email{TherapistID: 1, Betreff: "b", InhaltMarkdown: "x", EmpfaengerEmail: "a@b", EmpfaengerName: "A", Status: "Verschickt"})
	var se *neighbours.StatusError
	want := "Invalid status 'Verschickt'. Valid values: ['Entwurf', 'In_Warteschlange', 'Wird_gesendet', 'Gesendet', 'Fehlgeschlagen']"
	if !errors.As(err, &se) || se.Status != 400 || se.Message != want || se.Service != "Communication" {
		t.Fatalf("err = %#v", err)
	}
	if len(f.Emails()) != 0 {
		t.Errorf("a rejected email was recorded")
	}
}

func TestPhoneCalls_createAndListByAnfrageInBothShapes(t *testing.T) {
	for _, bare := range []bool{false, true} {
		t.Run(fmt.Sprintf("bare lists %v", bare), func(t *testing.T) {
			f, c := start(t)
			ctx := context.Background()
			call := neighbours.PhoneCall{TherapistID: 3, TherapeutenanfrageID: 12, GeplantesDatum: "2030-01-02", GeplanteZeit: "10:00", Notizen: "Follow-up für Anfrage A12"}
			id1, err := c.Communication.CreatePhoneCall(ctx, call)
			if err != nil {
				t.Fatal(err)
			}
			call.TherapeutenanfrageID = 13
			if _, err := c.Communication.CreatePhoneCall(ctx, call); err != nil {
				t.Fatal(err)
			}
			id3 := f.AddPhoneCall(map[string]any{"therapist_id": 3, "therapeutenanfrage_id": 12, "geplantes_datum": "2030-01-03", "geplante_zeit": "11:00"})
			f.SetBareLists(bare)

			calls, err := c.Communication.PhoneCallsForAnfrage(ctx, 12)
			if err != nil {
				t.Fatal(err)
			}
			want := []neighbours.PhoneCallRecord{
				{ID: id1, GeplantesDatum: "2030-01-02", GeplanteZeit: "10:00"},
				{ID: id3, GeplantesDatum: "2030-01-03", GeplanteZeit: "11:00"},
			}
			if diff := cmp.Diff(want, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			none, err := c.Communication.PhoneCallsForAnfrage(ctx, 99)
			if err != nil || len(none) != 0 {
				t.Errorf("anfrage 99: %v, %v", none, err)
			}
			got := f.PhoneCalls()
			if len(got) != 2 || got[0].ID != id1 || got[0].Body["notizen"] != "Follow-up für Anfrage A12" ||
				got[0].Record["therapeutenanfrage_id"] != float64(12) || got[0].Record["status"] != "geplant" {
				t.Errorf("phone calls = %+v", got)
			}
		})
	}
}

func TestPhoneCallsForAnfrage_dropsCallsOfOtherAnfragenWhenTheFilterIsIgnored(t *testing.T) {
	srv := newStaticServer(t, `[{"id": 1, "therapeutenanfrage_id": 12}, {"id": 2, "therapeutenanfrage_id": 13}, {"id": 3}]`)
	c := neighbours.NewClients(config.Neighbours{CommunicationURL: srv, Timeout: time.Second})
	calls, err := c.Communication.PhoneCallsForAnfrage(context.Background(), 12)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]neighbours.PhoneCallRecord{{ID: 1}, {ID: 3}}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// The date and time of a listed call come back as YYYY-MM-DD and HH:MM
// whatever shape the service used; what is not a date or a time of day is
// left empty instead of failing the list.
func TestPhoneCallsForAnfrage_readsEachCallsDateAndTime(t *testing.T) {
	cases := map[string]struct {
		datum, zeit string // JSON values
		want        neighbours.PhoneCallRecord
	}{
		"the reference's shape":     {`"2030-01-02"`, `"14:30"`, neighbours.PhoneCallRecord{ID: 1, GeplantesDatum: "2030-01-02", GeplanteZeit: "14:30"}},
		"datetime and seconds":      {`"2030-01-02T00:00:00"`, `"09:05:00"`, neighbours.PhoneCallRecord{ID: 1, GeplantesDatum: "2030-01-02", GeplanteZeit: "09:05"}},
		"single-digit hour":         {`"2030-01-02"`, `"9:05"`, neighbours.PhoneCallRecord{ID: 1, GeplantesDatum: "2030-01-02", GeplanteZeit: "09:05"}},
		"null":                      {`null`, `null`, neighbours.PhoneCallRecord{ID: 1}},
		"not a date, not a time":    {`"02.01.2030"`, `"10 Uhr"`, neighbours.PhoneCallRecord{ID: 1}},
		"no such day, no such hour": {`"2030-02-30"`, `"25:00"`, neighbours.PhoneCallRecord{ID: 1}},
		"numbers":                   {`20300102`, `1000`, neighbours.PhoneCallRecord{ID: 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newStaticServer(t, fmt.Sprintf(`[{"id": 1, "therapeutenanfrage_id": 12, "geplantes_datum": %s, "geplante_zeit": %s}]`, tc.datum, tc.zeit))
			c := neighbours.NewClients(config.Neighbours{CommunicationURL: srv, Timeout: time.Second})
			calls, err := c.Communication.PhoneCallsForAnfrage(context.Background(), 12)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]neighbours.PhoneCallRecord{tc.want}, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// newStaticServer answers every request with body, ignoring page: the pager
// must stop when a page brings nothing new.
func newStaticServer(t *testing.T, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestDistanceKM(t *testing.T) {
	f, c := start(t)
	f.SetDistance("Hauptstr. 1, 10115, Berlin", "Ring 2, 10117, Berlin", 12.5)
	f.SetDistance("80331", "80333", 3)
	f.SetNoDistance("Nirgendwo 1, 99999, X", "Ring 2, 10117, Berlin")
	for name, tc := range map[string]struct {
		q      neighbours.DistanceQuery
		km     float64
		ok     bool
		mode   string
		reason string
	}{
		"set for the addresses":         {neighbours.DistanceQuery{Origin: "Hauptstr. 1, 10115, Berlin", Destination: "Ring 2, 10117, Berlin", TravelMode: "transit"}, 12.5, true, "transit", ""},
		"set, asked the other way":      {neighbours.DistanceQuery{Origin: "Ring 2, 10117, Berlin", Destination: "Hauptstr. 1, 10115, Berlin"}, 12.5, true, "car", ""},
		"set for the PLZs":              {neighbours.DistanceQuery{Origin: "A 1, 80331, München", Destination: "B 2, 80333, München", TravelMode: "car"}, 3, true, "car", ""},
		"default from the PLZs":         {neighbours.DistanceQuery{Origin: "A 1, 10115, Berlin", Destination: "B 2, 10315, Berlin"}, 20, true, "car", ""},
		"address without PLZ":           {neighbours.DistanceQuery{Origin: "Berlin", Destination: "B 2, 10315, Berlin"}, 0, false, "car", ""},
		"set as impossible to compute":  {neighbours.DistanceQuery{Origin: "Nirgendwo 1, 99999, X", Destination: "Ring 2, 10117, Berlin"}, 0, false, "car", ""},
		"same PLZ is zero km, computed": {neighbours.DistanceQuery{Origin: "A, 10115, Berlin", Destination: "B, 10115, Berlin"}, 0, true, "car", ""},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(f.DistanceQueries())
			km, ok, err := c.Distances.DistanceKM(context.Background(), tc.q)
			if err != nil || ok != tc.ok || km != tc.km {
				t.Fatalf("got %v, %v, %v; want %v, %v", km, ok, err, tc.km, tc.ok)
			}
			qs := f.DistanceQueries()
			if len(qs) != before+1 || qs[before].TravelMode != tc.mode || qs[before].Origin != tc.q.Origin {
				t.Errorf("recorded %+v", qs[before:])
			}
		})
	}
}

func TestClients_concurrentCallsShareOneClientSafely(t *testing.T) {
	f, c := start(t)
	f.SetLatency(2 * time.Millisecond)
	var ids []int64
	for i := 0; i < 50; i++ {
		ids = append(ids, f.AddPatient(fake.SamplePatient(map[string]any{"nachname": fmt.Sprint("P", i)})))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := 0; w < 200; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			id := ids[w%len(ids)]
			p, err := c.Patients.Patient(context.Background(), id)
			if err == nil && (p.ID != id || !strings.HasPrefix(*p.Nachname, "P")) {
				err = fmt.Errorf("patient %d came back as %+v", id, p)
			}
			errs <- err
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.Count(fake.GetPatient); n != 200 {
		t.Errorf("count = %d", n)
	}
}

// The emails of a therapist come back with their subjects, those of other
// therapists not, also from a service that ignores the filter.
func TestEmailsToTherapist_listsTheTherapistsEmailsWithTheirSubjects(t *testing.T) {
	f, cfg := fake.Start(t)
	c := neighbours.NewClients(cfg)
	ctx := context.Background()
	mail := func(tid int64, subject string) int64 {
		id, err := c.Communication.CreateEmail(ctx, neighbours.Email{TherapistID: tid, Betreff: subject, InhaltMarkdown: "x", EmpfaengerEmail: "a@b", EmpfaengerName: "A"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := mail(3, "Suche Psychotherapieplätze - Ref: A1")
	mail(4, "Suche Psychotherapieplätze - Ref: A2")
	b := mail(3, "Suche Psychotherapieplätze - Ref: A3")
	for _, bare := range []bool{false, true} {
		f.SetBareLists(bare)
		got, err := c.Communication.EmailsToTherapist(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := []neighbours.EmailRecord{{ID: b, Betreff: "Suche Psychotherapieplätze - Ref: A3"}, {ID: a, Betreff: "Suche Psychotherapieplätze - Ref: A1"}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("bare lists %v (-want +got):\n%s", bare, d)
		}
	}
}
