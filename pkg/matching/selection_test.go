package matching_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/matching"
)

// th is a selection-list therapist: available and informed, unless changed.
func th(id int64, nachname, email string, change ...func(*matching.Therapist)) matching.Therapist {
	t := matching.Therapist{ID: id, Vorname: sp("Vera"), Nachname: sp(nachname), Status: sp("aktiv"),
		PotenziellVerfuegbar: bp(true), UeberCuravaniInformiert: bp(true)}
	if email != "" {
		t.Email = sp(email)
	}
	for _, c := range change {
		c(&t)
	}
	return t
}

func titel(s string) func(*matching.Therapist) {
	return func(t *matching.Therapist) { t.Titel = sp(s) }
}

func nextContact(date string) func(*matching.Therapist) {
	return func(t *matching.Therapist) { t.NaechsterKontaktMoeglich = sp(date) }
}

func ids(list []matching.Therapist) []int64 {
	out := []int64{}
	for _, t := range list {
		out = append(out, t.ID)
	}
	return out
}

func TestSelectTherapists_oneContactPerEmailGroup(t *testing.T) {
	cases := map[string]struct {
		list    []matching.Therapist
		pending map[int64]bool
		cooling map[int64]string
		want    []int64
	}{
		"email compared trimmed and lower-cased": {
			list: []matching.Therapist{th(1, "Adler", "praxis@x.de"), th(2, "Berg", " Praxis@X.de ")},
			want: []int64{1},
		},
		"surname in the address wins": {
			list: []matching.Therapist{th(1, "Adler", "kontakt@praxis-berg.de"), th(2, "Berg", "kontakt@praxis-berg.de")},
			want: []int64{2},
		},
		"umlauts spelled out for the address": {
			list: []matching.Therapist{th(1, "Adler", "info@mueller-psychotherapie.de", titel("Prof. Dr.")), th(2, "Müller", "info@mueller-psychotherapie.de")},
			want: []int64{2},
		},
		"ß spelled out": {
			list: []matching.Therapist{th(1, "Adler", "gross@praxis.de"), th(2, "Groß", "gross@praxis.de")},
			want: []int64{2},
		},
		"professor before doctor": {
			list: []matching.Therapist{th(1, "Adler", "p@x.de", titel("Dr.")), th(2, "Berg", "p@x.de", titel("Prof. Dr. med.")), th(3, "Cohn", "p@x.de")},
			want: []int64{2},
		},
		"first doctor on a tie": {
			list: []matching.Therapist{th(3, "Adler", "p@x.de"), th(2, "Berg", "p@x.de", titel("Dr. med.")), th(1, "Cohn", "p@x.de", titel("Dr"))},
			want: []int64{2},
		},
		"title matched as a word, not inside another": {
			list: []matching.Therapist{th(1, "Adler", "p@x.de", titel("Dr.")), th(2, "Berg", "p@x.de", titel("Dramatherapeutin")), th(0, "Cohn", "p@x.de", titel("Diplom-Professionalcoach"))},
			want: []int64{1},
		},
		"lowest id otherwise": {
			list: []matching.Therapist{th(9, "Adler", "p@x.de", titel("Dipl.-Psych.")), th(4, "Berg", "p@x.de"), th(7, "Cohn", "p@x.de")},
			want: []int64{4},
		},
		"group skipped when one member is pending": {
			list:    []matching.Therapist{th(1, "Adler", "p@x.de"), th(2, "Berg", "p@x.de"), th(3, "Cohn", "c@x.de")},
			pending: map[int64]bool{2: true},
			want:    []int64{3},
		},
		"group skipped when one member cools in the therapist record": {
			list: []matching.Therapist{th(1, "Adler", "p@x.de"), th(2, "Berg", "p@x.de", nextContact("2025-08-12")), th(3, "Cohn", "c@x.de")},
			want: []int64{3},
		},
		"group skipped when one member cools in matching's table": {
			list:    []matching.Therapist{th(1, "Adler", "p@x.de"), th(2, "Berg", "p@x.de"), th(3, "Cohn", "c@x.de")},
			cooling: map[int64]string{1: "2025-09-01"},
			want:    []int64{3},
		},
		"cooling until today is over": {
			list:    []matching.Therapist{th(1, "Adler", "p@x.de", nextContact("2025-08-11")), th(2, "Berg", "b@x.de")},
			cooling: map[int64]string{2: "2025-08-01"},
			want:    []int64{1, 2},
		},
		"therapists without email kept one by one": {
			list:    []matching.Therapist{th(1, "Adler", ""), th(2, "Berg", "  "), th(3, "Cohn", "", nextContact("2025-12-01")), th(4, "Dorn", "")},
			pending: map[int64]bool{4: true},
			want:    []int64{1, 2},
		},
		"not aktiv dropped": {
			list: []matching.Therapist{th(1, "Adler", "a@x.de", func(t *matching.Therapist) { t.Status = sp("gesperrt") }), th(2, "Berg", "b@x.de")},
			want: []int64{2},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := matching.SelectTherapists(c.list, c.pending, c.cooling, testToday)
			if diff := cmp.Diff(c.want, ids(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectTherapists_ordersByTierThenName(t *testing.T) {
	flags := func(avail, informed bool) func(*matching.Therapist) {
		return func(t *matching.Therapist) {
			t.PotenziellVerfuegbar, t.UeberCuravaniInformiert = bp(avail), bp(informed)
		}
	}
	list := []matching.Therapist{
		th(8, "Acht", "", flags(false, false)),
		th(7, "Sieben", "", flags(false, true)),
		th(6, "Sechs", "", flags(true, false)),
		th(5, "Fünf", "", flags(true, true)),
		th(4, "Vier", "4@x.de", flags(false, false)),
		th(3, "Drei", "3@x.de", flags(false, true)),
		th(2, "Zwei", "2@x.de", flags(true, false)),
		th(1, "Eins", "1@x.de", flags(true, true)),
		// Unknown flags count as false: tier 3, Neun before Vier.
		th(9, "Neun", "9@x.de", func(t *matching.Therapist) { t.PotenziellVerfuegbar, t.UeberCuravaniInformiert = nil, nil }),
	}
	got := matching.SelectTherapists(list, nil, nil, testToday)
	if diff := cmp.Diff([]int64{1, 2, 3, 9, 4, 5, 6, 7, 8}, ids(got)); diff != "" {
		t.Errorf("tier order (-want +got):\n%s", diff)
	}

	// Within a tier: nachname with German collation (Ä with A, before B),
	// then vorname; missing names first.
	vorname := func(s string) func(*matching.Therapist) {
		return func(t *matching.Therapist) { t.Vorname = sp(s) }
	}
	list = []matching.Therapist{
		th(1, "Zander", "1@x.de"),
		th(2, "Özdemir", "2@x.de"),
		th(3, "Becker", "3@x.de", vorname("Tom")),
		th(4, "Becker", "4@x.de", vorname("Anna")),
		th(5, "Ärmel", "5@x.de"),
		th(6, "Albers", "6@x.de"),
		th(7, "", "7@x.de"),
		th(8, "Oster", "8@x.de"),
	}
	got = matching.SelectTherapists(list, nil, nil, testToday)
	if diff := cmp.Diff([]int64{7, 6, 5, 4, 3, 8, 2, 1}, ids(got)); diff != "" {
		t.Errorf("name order (-want +got):\n%s", diff)
	}
}
