package handlers_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/store/storetest"
)

func TestEmailSent_notesTheAnfrageOfTheEmailUnderBothNames(t *testing.T) {
	for _, typ := range []string{"email.sent", "communication.email_sent"} {
		t.Run(typ, func(t *testing.T) {
			pool, _ := storetest.New(t)
			emailID := int64(900)
			a := insertAnfrage(t, pool, anfrage{therapist: 42, sent: true, emailID: &emailID})
			other := insertAnfrage(t, pool, anfrage{therapist: 42, sent: true})
			payload := `{"email_id":900,"email_data":{"email_id":900,"therapist_id":42,"status":"Gesendet"},"communication_type":"email","therapist_id":42}`
			code, outcome := send(t, server(communication(pool)), typed(typ, "m1", payload))
			if code != 200 || outcome != "processed" {
				t.Fatalf("status %d outcome %q, want 200 processed", code, outcome)
			}
			got, _ := readAnfrage(t, pool, a)
			if got.Notes == nil {
				t.Fatalf("anfrage has no note")
			}
			var stamp string
			if err := pool.QueryRow(t.Context(), `SELECT substring(notizen from 2 for 16) FROM matching_service.therapeutenanfrage WHERE id = $1`, a).Scan(&stamp); err != nil {
				t.Fatal(err)
			}
			if want := "[" + stamp + " (System)] Email 900 sent"; *got.Notes != want {
				t.Errorf("note %q, want %q", *got.Notes, want)
			}
			if got, _ := readAnfrage(t, pool, other); got.Notes != nil {
				t.Errorf("another anfrage got a note: %q", *got.Notes)
			}
			if n := count(t, pool, `SELECT count(*) FROM matching_service.processed_events WHERE event_type = 'email.sent'`); n != 1 {
				t.Errorf("processed_events has %d email.sent rows, want 1", n)
			}
		})
	}
}

func TestCommunicationEvents_areRecordedByTypeSoTheyCanBeCounted(t *testing.T) {
	pool, _ := storetest.New(t)
	h := server(communication(pool))
	for i, d := range []delivery{
		typed("email.sent", "1", `{"email_id":5}`),
		typed("communication.email_response_received", "2", `{"email_id":5,"response_data":{"body":"Vielen Dank, ich melde mich."}}`),
		typed("phone_call.completed", "3", `{"call_id":7}`),
		typed("phone_call.completed", "4", `{"call_id":8}`),
		typed("phone_call.completed", "4", `{"call_id":8}`), // redelivered
		typed("communication.call_scheduled", "5", `{"call_id":9,"call_data":{}}`),
		typed("something.else", "6", `{}`),
	} {
		if code, _ := send(t, h, d); code != 200 {
			t.Fatalf("delivery %d: status %d", i, code)
		}
	}
	rows, err := pool.Query(t.Context(), `SELECT event_type, count(*)::int FROM matching_service.processed_events GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var typ string
		var n int
		if err := rows.Scan(&typ, &n); err != nil {
			t.Fatal(err)
		}
		got[typ] = n
	}
	want := map[string]int{"email.sent": 1, "email.response_received": 1, "phone_call.completed": 2, "communication.call_scheduled": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("processed events by type (-want +got):\n%s", diff)
	}
}

func TestCommunicationEvents_withoutTheirIdAreRejected(t *testing.T) {
	pool, _ := storetest.New(t)
	h := server(communication(pool))
	for _, d := range []delivery{
		typed("email.sent", "1", `{"email_data":{}}`),
		typed("phone_call.completed", "2", `{"call_id":"x"}`),
	} {
		if code, _ := send(t, h, d); code != 422 {
			t.Fatalf("%s: status %d, want 422", d.header["Ce-Type"], code)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.processed_events`); n != 0 {
		t.Fatalf("%d events recorded, want none", n)
	}
}
