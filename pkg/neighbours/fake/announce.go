package fake

import "strconv"

// Change is a change the fake patient or therapist service made over HTTP,
// as the real service announces it on patient-events or therapist-events
// (reference-behaviour §5.4): patient.created, patient.updated
// ({"patient_id", "patient_data"}), patient.deleted ({"patient_id", "id"}),
// therapist.created, therapist.updated, therapist.blocked (with "reason",
// the sperrgrund) and therapist.unblocked ({"therapist_id",
// "therapist_data"}).
type Change struct {
	Type string
	// Key is the id of the patient or therapist, the record key the
	// services use.
	Key     string
	Payload map[string]any
}

// personChange is what one create, update or delete did to a record: its
// state before (nil for a create) and after (nil for a delete).
type personChange struct {
	id            int64
	before, after map[string]any
}

// OnChange makes the fake announce every change of a patient or therapist
// made over HTTP (POST, PUT, DELETE; the Go API stays silent) by calling
// fn with it, after the change and before the answer. The local stack
// publishes them to Kafka, so that changing a patient through
// PUT /api/patients/{id} reaches matching as it would in production.
func (f *Fake) OnChange(fn func(Change)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onChange = fn
}

// announce calls the OnChange function, if any, outside the lock.
func (f *Fake) announce(c Change) {
	f.mu.Lock()
	fn := f.onChange
	f.mu.Unlock()
	if fn != nil {
		fn(c)
	}
}

// announcePatient announces a change of a patient as the patient service does.
func (f *Fake) announcePatient(typ string, c *personChange) {
	if c == nil {
		return
	}
	p := map[string]any{"patient_id": c.id}
	if typ == "patient.deleted" {
		p["id"] = c.id
	} else {
		p["patient_data"] = c.after
	}
	f.announce(Change{Type: typ, Key: strconv.FormatInt(c.id, 10), Payload: p})
}

// announceTherapist announces a change of a therapist as the therapist
// service does: a status change to gesperrt is therapist.blocked with the
// sperrgrund as reason, one from gesperrt to aktiv therapist.unblocked,
// any other update therapist.updated.
func (f *Fake) announceTherapist(typ string, c *personChange) {
	if c == nil {
		return
	}
	p := map[string]any{"therapist_id": c.id, "therapist_data": c.after}
	if typ == "therapist.updated" {
		was, now := c.before["status"], c.after["status"]
		switch {
		case now == "gesperrt" && was != "gesperrt":
			typ = "therapist.blocked"
			p["reason"] = c.after["sperrgrund"]
		case was == "gesperrt" && now == "aktiv":
			typ = "therapist.unblocked"
		}
	}
	f.announce(Change{Type: typ, Key: strconv.FormatInt(c.id, 10), Payload: p})
}
