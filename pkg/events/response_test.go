package events_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/storable"
)

// An email reply needs the email it answers and a body; the other fields
// of response_data are optional strings. Anything else is poison (422).
func TestParseEmailResponse(t *testing.T) {
	got, err := events.ParseEmailResponse(json.RawMessage(`{"email_id": 7, "email_data": {"therapist_id": 3},
		"response_data": {"subject": "AW: Ref: A2", "body": "Ja.", "from": "praxis@example.org", "received_at": null, "extra": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := events.EmailResponseData{EmailEventData: events.EmailEventData{EmailID: 7, TherapistID: 3},
		Subject: "AW: Ref: A2", Body: "Ja.", From: "praxis@example.org"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got, err := events.ParseEmailResponse(json.RawMessage(`{"email_id": 7, "response_data": {"body": ""}}`)); err != nil || got.Body != "" {
		t.Errorf("an empty body: %+v, %v; want accepted", got, err)
	}
	for payload, msg := range map[string]string{
		`{"response_data": {"body": "Ja"}}`:                  "field email_id: required",
		`{"email_id": "7", "response_data": {"body": "Ja"}}`: `field email_id: must be an integer, got "7"`,
		`{"email_id": 7}`:                                                "field response_data: required",
		`{"email_id": 7, "response_data": null}`:                         "field response_data: required",
		`{"email_id": 7, "response_data": "Ja"}`:                         "field response_data: must be an object",
		`{"email_id": 7, "response_data": {}}`:                           "field response_data.body: required",
		`{"email_id": 7, "response_data": {"body": null}}`:               "field response_data.body: required",
		`{"email_id": 7, "response_data": {"body": ["Ja"]}}`:             `field response_data.body: must be a string, got ["Ja"]`,
		`{"email_id": 7, "response_data": {"body": "Ja", "subject": 5}}`: "field response_data.subject: must be a string, got 5",
		`{"email_id": 7, "response_data": {"body": "Ja\u0000"}}`:         "field response_data.body: " + nulReason(),
	} {
		_, err := events.ParseEmailResponse(json.RawMessage(payload))
		if fe := fault.As(err); fe == nil || fe.Kind != fault.Invalid || fe.Message != msg {
			t.Errorf("%s: %v, want invalid %q", payload, err, msg)
		}
	}
}

// nulReason is storable's reason for a string holding NUL.
func nulReason() string { return storable.Text("\x00").Error() }
