package handlers_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store/storetest"
)

// seedSentAnfragen makes anfragen 1…n, each sent by email i to therapist
// 1000+i with the aktiv searches of patients 2i-1 (Person 1) and 2i
// (Person 2) as its letter showed them.
func seedSentAnfragen(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	for _, sql := range []string{
		`INSERT INTO matching_service.platzsuche (id, patient_id, status)
		 SELECT g, g, 'aktiv' FROM generate_series(1, 2 * $1::int) g`,
		`INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse, gesendet_datum, email_id, brief_personen)
		 SELECT g, 1000 + g, 2, now() AT TIME ZONE 'utc', g, jsonb_build_array(
		     jsonb_build_object('person', 1, 'patient_id', 2 * g - 1, 'geschlecht', 'weiblich', 'alter', 34, 'symptome', jsonb_build_array('Depression'), 'krankenkasse', 'TK'),
		     jsonb_build_object('person', 2, 'patient_id', 2 * g, 'geschlecht', 'männlich', 'alter', 41, 'symptome', jsonb_build_array('Burnout'), 'krankenkasse', 'AOK'))
		 FROM generate_series(1, $1::int) g`,
		`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
		 SELECT (g + 1) / 2, g, g, 2 - g % 2 FROM generate_series(1, 2 * $1::int) g`,
		`SELECT setval(pg_get_serial_sequence('matching_service.platzsuche', 'id'), 2 * $1::int)`,
		`SELECT setval(pg_get_serial_sequence('matching_service.therapeutenanfrage', 'id'), $1::int)`,
	} {
		if _, err := pool.Exec(context.Background(), sql, n); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
}

// BenchmarkEmailReply times the handling of one email.response_received
// over HTTP, one at a time, end to end: decoding, the inbox, finding and
// locking the anfrage, reading the letter's people, parsing the reply, the
// stored suggestion and, for "recorded", the whole response (outcomes,
// searches, cooling, three events), for "review" the note and the
// review_needed event. The baseline, interleaved in the same run on the
// same handler and database, is email.sent noting the same anfrage (decode,
// inbox, one UPDATE).
func BenchmarkEmailReply(b *testing.B) {
	for _, tc := range []struct{ name, body string }{
		{"recorded", "Guten Tag,\n\nich kann beide Personen aufnehmen.\n\nViele Grüße"},
		{"review", "Guten Tag,\n\nPerson 1 nehme ich gern auf. Zu Person 2 melde ich mich nächste Woche.\n\nViele Grüße"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			pool, _ := storetest.New(b)
			n := b.N
			seedSentAnfragen(b, pool, n)
			h := server(communication(pool))
			reply := func(i int) delivery {
				return replyEvent("reply-"+strconv.Itoa(i), int64(i+1), "AW: Suche Psychotherapieplätze", tc.body)
			}
			sent := func(i int) delivery {
				return typed("email.sent", "sent-"+strconv.Itoa(i), fmt.Sprintf(`{"email_id":%d}`, i+1))
			}
			b.ResetTimer()
			b.StopTimer()
			var base, took time.Duration
			done := map[bool]int{}
			chunks := map[bool]int{}
			for _, isReply := range interleaved(benchRounds) {
				chunks[isReply]++
				from, to := done[isReply], n*chunks[isReply]/benchRounds
				mk, d := sent, &base
				if isReply {
					mk, d = reply, &took
					b.StartTimer()
				}
				start := time.Now()
				for i := from; i < to; i++ {
					if code, outcome := send(b, h, mk(i)); code != 200 || outcome != "processed" {
						b.Fatalf("event %d: status %d outcome %q", i, code, outcome)
					}
				}
				*d += time.Since(start)
				b.StopTimer()
				done[isReply] = to
			}
			if tc.name == "recorded" {
				if got := count(b, pool, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE antwort_datum IS NOT NULL`); got != n {
					b.Fatalf("%d of %d replies recorded", got, n)
				}
			}
			b.ReportMetric(float64(took.Microseconds())/float64(n)/1000, "ms/reply")
			b.ReportMetric(float64(base.Microseconds())/float64(n)/1000, "ms/email.sent")
			b.ReportMetric(float64(took)/float64(base), "ratio")
		})
	}
}
