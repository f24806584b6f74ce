package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// The demo data set: a dozen patients and therapists around Aachen (PLZ
// 52xxx), searches of different ages, one anfrage sent 8 days ago (due for
// a follow-up call) and one therapist in a cooling period. Ids are fixed, so
// the README's commands name the same people on every start of a reset
// database:
//
//   - patients 1–9 have a search (the search id is the patient id); search 9
//     is paused; patients 10–12 have none yet.
//   - therapist 3 (Dr. Katharina Wolff) takes women only: an anfrage for her
//     gets patients 2 and 7, and 10 once she has a search.
//   - anfrage 1 went to therapist 12 (Dr. Frank Schröder) with patients 1
//     and 2, by email (email 1), 8 days ago, and has no answer.
//   - therapist 9 blocks contact in her record, therapist 11 in matching's
//     cooling table; therapists 6 and 7 share a practice email; therapist 10
//     has no email (anfragen to him go by phone).
var (
	demoPatients = []map[string]any{
		{"id": 1, "anrede": "Herr", "geschlecht": "männlich", "vorname": "Jonas", "nachname": "Becker", "strasse": "Pontstraße 12", "plz": "52062", "ort": "Aachen", "geburtsdatum": "1988-03-14", "krankenkasse": "Techniker Krankenkasse", "symptome": []any{"Depression / Niedergeschlagenheit"}},
		{"id": 2, "anrede": "Frau", "geschlecht": "weiblich", "vorname": "Anna", "nachname": "Schneider", "strasse": "Jakobstraße 40", "plz": "52064", "ort": "Aachen", "geburtsdatum": "1995-07-02", "krankenkasse": "AOK Rheinland/Hamburg", "symptome": []any{"Ängste / Panikattacken"}, "verkehrsmittel": "ÖPNV"},
		{"id": 3, "anrede": "Herr", "geschlecht": "männlich", "vorname": "Lukas", "nachname": "Hoffmann", "strasse": "Oppenhoffallee 5", "plz": "52066", "ort": "Aachen", "geburtsdatum": "1979-11-23", "krankenkasse": "Barmer", "symptome": []any{"Burnout / Erschöpfung"}, "erfahrung_mit_psychotherapie": true, "letzte_sitzung_vorherige_psychotherapie": "2021-06-30"},
		{"id": 4, "anrede": "Herr", "geschlecht": "männlich", "vorname": "Felix", "nachname": "Wagner", "strasse": "Trierer Straße 100", "plz": "52068", "ort": "Aachen", "geburtsdatum": "1992-01-30", "krankenkasse": "DAK-Gesundheit", "symptome": []any{"Schlafstörungen"}},
		{"id": 5, "anrede": "Herr", "geschlecht": "männlich", "vorname": "Paul", "nachname": "Schäfer", "strasse": "Kleikstraße 8", "plz": "52134", "ort": "Herzogenrath", "geburtsdatum": "1985-05-05", "krankenkasse": "IKK classic", "symptome": []any{"Sucht / Abhängigkeit"}},
		{"id": 6, "anrede": "Herr", "geschlecht": "männlich", "vorname": "David", "nachname": "Richter", "strasse": "Kaiserstraße 21", "plz": "52146", "ort": "Würselen", "geburtsdatum": "2001-12-12", "krankenkasse": "Techniker Krankenkasse", "symptome": []any{"Ängste / Panikattacken", "Schlafstörungen"}},
		{"id": 7, "anrede": "Frau", "geschlecht": "weiblich", "vorname": "Sophie", "nachname": "Klein", "strasse": "Lothringerstraße 3", "plz": "52070", "ort": "Aachen", "geburtsdatum": "1999-09-09", "krankenkasse": "Barmer", "symptome": []any{"Depression / Niedergeschlagenheit", "Schlafstörungen"}},
		{"id": 8, "anrede": "Herr", "geschlecht": "männlich", "vorname": "Tim", "nachname": "Neumann", "strasse": "Steinweg 44", "plz": "52222", "ort": "Stolberg", "geburtsdatum": "1975-02-17", "krankenkasse": "AOK Rheinland/Hamburg", "symptome": []any{"Trauer / Verlust"}, "raeumliche_verfuegbarkeit": map[string]any{"max_km": 5}},
		{"id": 9, "anrede": "Frau", "geschlecht": "weiblich", "vorname": "Lea", "nachname": "Schmitz", "strasse": "Kölnstraße 17", "plz": "52349", "ort": "Düren", "geburtsdatum": "1990-04-21", "krankenkasse": "DAK-Gesundheit", "symptome": []any{"Essstörungen"}, "verkehrsmittel": "ÖPNV"},
		{"id": 10, "anrede": "Frau", "geschlecht": "weiblich", "vorname": "Laura", "nachname": "Fischer", "strasse": "Roermonder Straße 60", "plz": "52072", "ort": "Aachen", "geburtsdatum": "1997-08-08", "krankenkasse": "Techniker Krankenkasse", "symptome": []any{"Ängste / Panikattacken"}},
		{"id": 11, "anrede": "Herr", "geschlecht": "männlich", "vorname": "Jan", "nachname": "Weber", "strasse": "Vaalser Straße 200", "plz": "52074", "ort": "Aachen", "geburtsdatum": "1983-10-10", "krankenkasse": "Barmer", "symptome": []any{"Zwänge"}},
		{"id": 12, "anrede": "Frau", "geschlecht": "weiblich", "vorname": "Hannah", "nachname": "Meyer", "strasse": "Marienstraße 2", "plz": "52249", "ort": "Eschweiler", "geburtsdatum": "1969-01-25", "krankenkasse": "AOK Rheinland/Hamburg", "symptome": []any{"Depression / Niedergeschlagenheit"}},
	}
	demoTherapists = []map[string]any{
		{"id": 1, "anrede": "Frau", "titel": "Dr.", "vorname": "Martina", "nachname": "Krüger", "geschlecht": "weiblich", "strasse": "Theaterstraße 15", "plz": "52062", "ort": "Aachen", "email": "praxis@krueger-aachen.example.org", "psychotherapieverfahren": "Verhaltenstherapie"},
		{"id": 2, "anrede": "Herr", "titel": "Dipl.-Psych.", "vorname": "Thomas", "nachname": "Braun", "geschlecht": "männlich", "strasse": "Wilhelmstraße 70", "plz": "52064", "ort": "Aachen", "email": "kontakt@braun-psychotherapie.example.org", "psychotherapieverfahren": "tiefenpsychologisch_fundierte_Psychotherapie"},
		{"id": 3, "anrede": "Frau", "titel": "Dr.", "vorname": "Katharina", "nachname": "Wolff", "geschlecht": "weiblich", "strasse": "Bismarckstraße 31", "plz": "52066", "ort": "Aachen", "email": "k.wolff@praxis-wolff.example.org", "psychotherapieverfahren": "Verhaltenstherapie", "geschlechtspraeferenz": "Weiblich", "telefonische_erreichbarkeit": map[string]any{"dienstag": []any{"08:30-09:30"}, "donnerstag": []any{"12:00-13:00"}}},
		{"id": 4, "anrede": "Herr", "titel": "", "vorname": "Stefan", "nachname": "Zimmermann", "geschlecht": "männlich", "strasse": "Adalbertsteinweg 90", "plz": "52068", "ort": "Aachen", "email": "zimmermann@therapie-ac.example.org", "psychotherapieverfahren": "tiefenpsychologisch_fundierte_Psychotherapie", "alter_min": 18, "alter_max": 35},
		{"id": 5, "anrede": "Frau", "titel": "Dr.", "vorname": "Sabine", "nachname": "Hartmann", "geschlecht": "weiblich", "strasse": "Peterstraße 1", "plz": "52070", "ort": "Aachen", "email": "hartmann@gruppenpraxis.example.org", "psychotherapieverfahren": "Verhaltenstherapie", "bevorzugt_gruppentherapie": true},
		{"id": 6, "anrede": "Herr", "titel": "", "vorname": "Michael", "nachname": "Lange", "geschlecht": "männlich", "strasse": "Monheimsallee 11", "plz": "52072", "ort": "Aachen", "email": "praxis@lange-krause.example.org", "psychotherapieverfahren": "Verhaltenstherapie"},
		{"id": 7, "anrede": "Frau", "titel": "", "vorname": "Julia", "nachname": "Krause", "geschlecht": "weiblich", "strasse": "Monheimsallee 11", "plz": "52072", "ort": "Aachen", "email": "praxis@lange-krause.example.org", "psychotherapieverfahren": "Verhaltenstherapie"},
		{"id": 8, "anrede": "Herr", "titel": "Dr.", "vorname": "Andreas", "nachname": "Schmitt", "geschlecht": "männlich", "strasse": "Bahnhofstraße 9", "plz": "52134", "ort": "Herzogenrath", "email": "schmitt@praxis-herzogenrath.example.org", "psychotherapieverfahren": "tiefenpsychologisch_fundierte_Psychotherapie"},
		{"id": 9, "anrede": "Frau", "titel": "", "vorname": "Claudia", "nachname": "Werner", "geschlecht": "weiblich", "strasse": "Markt 4", "plz": "52146", "ort": "Würselen", "email": "werner@therapie-wuerselen.example.org", "psychotherapieverfahren": "Verhaltenstherapie"},
		{"id": 10, "anrede": "Herr", "titel": "", "vorname": "Markus", "nachname": "Schulz", "geschlecht": "männlich", "strasse": "Rathausstraße 6", "plz": "52222", "ort": "Stolberg", "email": nil, "psychotherapieverfahren": "Verhaltenstherapie", "telefonische_erreichbarkeit": map[string]any{"montag": []any{"13:00-14:00"}, "mittwoch": []any{"13:00-14:00"}}},
		{"id": 11, "anrede": "Frau", "titel": "Dr.", "vorname": "Petra", "nachname": "Lehmann", "geschlecht": "weiblich", "strasse": "Indestraße 30", "plz": "52249", "ort": "Eschweiler", "email": "lehmann@praxis-eschweiler.example.org", "psychotherapieverfahren": "tiefenpsychologisch_fundierte_Psychotherapie"},
		{"id": 12, "anrede": "Herr", "titel": "Dr.", "vorname": "Frank", "nachname": "Schröder", "geschlecht": "männlich", "strasse": "Annuntiatenbach 22", "plz": "52062", "ort": "Aachen", "email": "schroeder@praxis-schroeder.example.org", "psychotherapieverfahren": "Verhaltenstherapie", "telefonische_erreichbarkeit": map[string]any{"montag": []any{"09:00-10:00"}, "mittwoch": []any{"14:00-15:00"}, "freitag": []any{"11:00-12:00"}}},
	}
	// demoSearchAges are how many days ago patients 1–9 started their
	// search, in patient order (the composition takes the oldest first).
	demoSearchAges = []int{34, 30, 27, 21, 18, 14, 11, 6, 40}
)

// Ids in the demo data the README and the tests refer to.
const (
	demoPausedSearch      = 9
	demoSentAnfrage       = 1
	demoSentTherapist     = 12
	demoRecordCooling     = 9 // naechster_kontakt_moeglich in the therapist record
	demoMatchingCooling   = 11
	demoSentAnfrageAgeDay = 8
)

// demoSentPatients are the patients (and searches) of anfrage 1.
var demoSentPatients = []int64{1, 2}

// seed stores the demo data set in the fake and, if the database holds no
// search and no anfrage, in the database (one transaction, no events: the
// demo data stands for a history that happened before the stack started).
func (s *Stack) seed(ctx context.Context) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	today := now.In(s.opts.Matching.Location())
	for _, p := range demoPatients {
		p := fake.SamplePatient(p)
		p["email"] = demoEmail(p["vorname"], p["nachname"])
		p["telefon"] = fmt.Sprintf("+49 241 %d", 5550100+p["id"].(int))
		s.Neighbours.AddPatient(p)
	}
	for _, t := range demoTherapists {
		t := fake.SampleTherapist(t)
		t["telefon"] = fmt.Sprintf("+49 241 %d", 4440100+t["id"].(int))
		if t["id"] == demoRecordCooling {
			t["naechster_kontakt_moeglich"] = today.AddDate(0, 0, 14).Format("2006-01-02")
		}
		s.Neighbours.AddTherapist(t)
	}
	sentAt := now.AddDate(0, 0, -demoSentAnfrageAgeDay)
	emailID, letter, err := s.seedEmail(ctx, sentAt)
	if err != nil {
		return fmt.Errorf("seed the demo email: %w", err)
	}

	var empty bool
	if err := s.pool.QueryRow(ctx, `
		SELECT NOT EXISTS (SELECT 1 FROM matching_service.platzsuche)
		   AND NOT EXISTS (SELECT 1 FROM matching_service.therapeutenanfrage)`).Scan(&empty); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if !empty {
		s.Seeded = "kept the data already in the database; the fake neighbours have the demo set"
		s.log.Info("demo data: the database already holds data, only the fake neighbours were seeded")
		return nil
	}
	err = store.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		for i, days := range demoSearchAges {
			patient := int64(i + 1)
			created := now.AddDate(0, 0, -days)
			search, err := store.CreateSearch(ctx, tx, patient, nil, created)
			if err != nil {
				return fmt.Errorf("patient %d: %w", patient, err)
			}
			if patient == demoPausedSearch {
				at := created.AddDate(0, 0, 3)
				note := matching.Note(at, matching.AuthorAPI, "Pausiert: Patientin ist bis Monatsende verreist")
				if err := store.SetSearchStatus(ctx, tx, search.ID, matching.StatusPausiert, nil, at); err != nil {
					return err
				}
				if err := store.UpdateSearch(ctx, tx, search.ID, store.SearchUpdate{Notes: &note}, at); err != nil {
					return err
				}
			}
		}
		a, _, ok, err := store.InsertAnfrage(ctx, tx, demoSentTherapist, demoSentPatients, sentAt.Add(-time.Hour))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("anfrage %d: its searches are not aktiv", demoSentAnfrage)
		}
		if err := store.MarkSent(ctx, tx, a.ID, &emailID, nil, sentAt); err != nil {
			return err
		}
		if err := placement.StoreLetterPeople(ctx, tx, a.ID, letter, sentAt); err != nil {
			return err
		}
		note := "Praxis im Urlaub, bitte erst danach wieder anfragen"
		_, err = store.SetCooling(ctx, tx, demoMatchingCooling, today.AddDate(0, 0, 20).Format("2006-01-02"), &note, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("seed the demo data: %w", err)
	}
	s.Seeded = fmt.Sprintf("%d patients, %d therapists, %d searches, anfrage %d sent %d days ago",
		len(demoPatients), len(demoTherapists), len(demoSearchAges), demoSentAnfrage, demoSentAnfrageAgeDay)
	s.log.Info("demo data seeded", slog.String("what", s.Seeded))
	return nil
}

// demoEmail is vorname.nachname@example.org in ASCII.
func demoEmail(first, last any) string {
	r := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", " ", "")
	return r.Replace(strings.ToLower(fmt.Sprintf("%s.%s@example.org", first, last)))
}

// seedEmail creates, at the fake communication service, the email anfrage 1
// was sent with, as the API would have, and returns its id and the patients
// it showed.
func (s *Stack) seedEmail(ctx context.Context, sentAt time.Time) (int64, []matching.Patient, error) {
	clients := neighbours.NewClients(s.neighbourConfig())
	t, err := clients.Therapists.Therapist(ctx, demoSentTherapist)
	if err != nil {
		return 0, nil, err
	}
	var patients []matching.Patient
	for _, id := range demoSentPatients {
		p, err := clients.Patients.Patient(ctx, id)
		if err != nil {
			return 0, nil, err
		}
		patients = append(patients, p.Matching())
	}
	letter := placement.Letter(t, patients, demoSentAnfrage, sentAt)
	letter.Status = "Gesendet"
	id, err := clients.Communication.CreateEmail(ctx, letter)
	return id, patients, err
}
