package fake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// communicationRoutes registers the endpoints of the communication service:
// emails and phone calls.
func (f *Fake) communicationRoutes(route routeFunc) {
	route(CreateEmail, CommunicationService, f.createEmail)
	route(ListEmails, CommunicationService, f.listEmails)
	route(GetEmail, CommunicationService, func(w http.ResponseWriter, r *http.Request) {
		f.getOne(w, r, f.emails, "Email not found")
	})
	route(UpdateEmail, CommunicationService, f.updateEmail)
	route(CreatePhoneCall, CommunicationService, f.createPhoneCall)
	route(ListPhoneCalls, CommunicationService, f.listPhoneCalls)
	route(GetPhoneCall, CommunicationService, func(w http.ResponseWriter, r *http.Request) {
		f.getOne(w, r, f.calls, "Phone call not found")
	})
	route(UpdatePhoneCall, CommunicationService, f.updatePhoneCall)
}

// received is one request body accepted by POST /api/emails or
// POST /api/phone-calls, under the id the fake gave its record.
type received struct {
	id  int64
	raw []byte
}

// receivedList returns reqs as Received, each with its record as stored now.
func (f *Fake) receivedList(reqs []received, records map[int64]*record) []Received {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Received, 0, len(reqs))
	for _, rq := range reqs {
		var body map[string]any
		_ = json.Unmarshal(rq.raw, &body)
		got := Received{ID: rq.id, Body: body, Raw: bytes.Clone(rq.raw)}
		if r, ok := records[rq.id]; ok {
			got.Record = r.copy()
		}
		out = append(out, got)
	}
	return out
}

// recipientProblem is the communication service's check that an email or a
// phone call has exactly one recipient, a therapist or a patient.
func recipientProblem(therapistID, patientID int64) string {
	switch {
	case therapistID == 0 && patientID == 0:
		return "Either therapist_id or patient_id is required"
	case therapistID != 0 && patientID != 0:
		return "Cannot specify both therapist_id and patient_id"
	}
	return ""
}

// nullID serialises a zero id as null, as the communication service does.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return json.Number(strconv.FormatInt(id, 10))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
