package fake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// phoneCallFields are the keys of a phone-call record (§7.2).
var phoneCallFields = []field{
	{"therapist_id", kInt, nil}, {"patient_id", kInt, nil}, {"therapeutenanfrage_id", kInt, nil},
	{"geplantes_datum", kDate, nil}, {"geplante_zeit", kString, nil}, {"dauer_minuten", kInt, 5},
	{"tatsaechliches_datum", kDate, nil}, {"tatsaechliche_zeit", kString, nil},
	{"status", kString, "geplant"}, {"ergebnis", kString, nil}, {"notizen", kString, nil},
	{"created_at", kStamp, nil}, {"updated_at", kStamp, nil},
}

var phoneCallStatuses = []string{"geplant", "abgeschlossen", "fehlgeschlagen", "abgesagt"}

// AddPhoneCall stores a phone call as if someone else had created it (say, an
// earlier run of the follow-up job) and returns its id. It is not listed by
// PhoneCalls, which lists what was received over HTTP.
func (f *Fake) AddPhoneCall(v any) int64 {
	return f.add(v, "phone-call", f.putCall, phoneCallFields, rfc822)
}

// PhoneCall returns the stored phone-call record, or false.
func (f *Fake) PhoneCall(id int64) (map[string]any, bool) { return f.get(f.calls, id) }

// PhoneCalls returns the phone calls received over POST /api/phone-calls, oldest first.
func (f *Fake) PhoneCalls() []Received { return f.receivedList(f.callReqs, f.calls) }

// putCall stores the phone call r under id, replacing any call with that id,
// and keeps callsByAnfrage; f.mu is held.
func (f *Fake) putCall(id int64, r *record) {
	if old, ok := f.calls[id]; ok {
		f.unindexCall(id, old)
	}
	f.calls[id] = r
	f.indexCall(id, r)
}

// indexCall adds call id to the list of its therapeutenanfrage_id (a call
// without one is not listed); f.mu is held.
func (f *Fake) indexCall(id int64, r *record) {
	anfrage, ok := r.int("therapeutenanfrage_id")
	if !ok || anfrage == 0 {
		return
	}
	ids := f.callsByAnfrage[anfrage]
	if i, found := slices.BinarySearch(ids, id); !found {
		f.callsByAnfrage[anfrage] = slices.Insert(ids, i, id)
	}
}

// unindexCall removes call id from the list of its therapeutenanfrage_id;
// f.mu is held.
func (f *Fake) unindexCall(id int64, r *record) {
	anfrage, ok := r.int("therapeutenanfrage_id")
	if !ok {
		return
	}
	ids := f.callsByAnfrage[anfrage]
	i, found := slices.BinarySearch(ids, id)
	switch {
	case !found:
	case len(ids) == 1:
		delete(f.callsByAnfrage, anfrage)
	default:
		f.callsByAnfrage[anfrage] = slices.Delete(ids, i, i+1)
	}
}

// createPhoneCall serves POST /api/phone-calls (reference-behaviour §7.2).
func (f *Fake) createPhoneCall(w http.ResponseWriter, r *http.Request) {
	raw, body, ok := readBody(w, r)
	if !ok {
		return
	}
	args, problem := parseArgs(body, []arg{
		{"therapist_id", kInt, ""}, {"patient_id", kInt, ""}, {"therapeutenanfrage_id", kInt, ""},
		{"geplantes_datum", kString, ""}, {"geplante_zeit", kString, ""}, {"dauer_minuten", kInt, ""},
		{"status", kString, ""}, {"notizen", kString, ""},
	})
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return
	}
	therapistID, patientID := args.id("therapist_id"), args.id("patient_id")
	if problem := recipientProblem(therapistID, patientID); problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	date := now.AddDate(0, 0, 1).Format("2006-01-02")
	if d := args.str("geplantes_datum"); d != "" {
		t, err := parseISODate(d)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, msg("Invalid date format: "+d))
			return
		}
		date = t
	}
	clock := args.str("geplante_zeit")
	if clock != "" {
		c, err := parseClock(clock)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, msg("Invalid time format: "+clock))
			return
		}
		clock = c
	} else if therapistID != 0 {
		for _, slot := range []string{"10:00", "14:00"} {
			if !f.callAt(therapistID, date, slot) {
				clock = slot
				break
			}
		}
		if clock == "" {
			writeJSON(w, http.StatusBadRequest, msg("No available slots found for this therapist"))
			return
		}
	} else {
		clock = "10:00"
	}
	duration := args.id("dauer_minuten")
	if duration == 0 {
		duration = 5
		if patientID != 0 {
			duration = 10
		}
	}
	f.next["phone-call"]++
	id := f.next["phone-call"]
	rec := &record{m: map[string]any{
		"id":                    json.Number(strconv.FormatInt(id, 10)),
		"therapist_id":          nullID(therapistID),
		"patient_id":            nullID(patientID),
		"therapeutenanfrage_id": nullID(args.id("therapeutenanfrage_id")),
		"geplantes_datum":       date,
		"geplante_zeit":         clock,
		"dauer_minuten":         json.Number(strconv.FormatInt(duration, 10)),
		"tatsaechliches_datum":  nil,
		"tatsaechliche_zeit":    nil,
		"status":                orDefault(args.str("status"), "geplant"),
		"ergebnis":              nil,
		"notizen":               args["notizen"],
		"created_at":            rfc822(now),
		"updated_at":            nil,
	}}
	f.putCall(id, rec)
	f.callReqs = append(f.callReqs, received{id: id, raw: bytes.Clone(raw)})
	writeRaw(w, http.StatusCreated, rec.json())
}

// callAt reports whether the therapist has a call at date and clock; f.mu is held.
func (f *Fake) callAt(therapistID int64, date, clock string) bool {
	for _, rec := range f.calls {
		if id, _ := rec.int("therapist_id"); id == therapistID && rec.str("geplantes_datum") == date && rec.str("geplante_zeit") == clock {
			return true
		}
	}
	return false
}

// updatePhoneCall serves PUT /api/phone-calls/{id}.
func (f *Fake) updatePhoneCall(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	_, body, ok := readBody(w, r)
	if !ok {
		return
	}
	args, problem := parseArgs(body, []arg{
		{"geplantes_datum", kString, ""}, {"geplante_zeit", kString, ""}, {"dauer_minuten", kInt, ""},
		{"tatsaechliches_datum", kString, ""}, {"tatsaechliche_zeit", kString, ""}, {"status", kString, ""},
		{"ergebnis", kString, ""}, {"notizen", kString, ""}, {"therapeutenanfrage_id", kInt, ""},
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, found := f.calls[id]
	if !found {
		writeJSON(w, http.StatusNotFound, msg("Phone call not found"))
		return
	}
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return
	}
	if s := args.str("status"); s != "" && !contains(phoneCallStatuses, s) {
		writeJSON(w, http.StatusBadRequest, msg("Invalid status value: "+s))
		return
	}
	for _, k := range []string{"geplantes_datum", "tatsaechliches_datum"} {
		if d := args.str(k); d != "" {
			t, err := parseISODate(d)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, msg("Invalid date format: "+d))
				return
			}
			args[k] = t
		}
	}
	for _, k := range []string{"geplante_zeit", "tatsaechliche_zeit"} {
		if c := args.str(k); c != "" {
			t, err := parseClock(c)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, msg("Invalid time format: "+c))
				return
			}
			args[k] = t
		}
	}
	f.unindexCall(id, rec) // therapeutenanfrage_id may change
	for k, v := range args {
		if v != nil {
			rec.set(k, v)
		}
	}
	rec.set("updated_at", rfc822(f.now()))
	f.indexCall(id, rec)
	writeRaw(w, http.StatusOK, rec.json())
}

// listPhoneCalls serves GET /api/phone-calls with the filters therapist_id,
// patient_id, therapeutenanfrage_id, recipient_type, status and
// geplantes_datum, ordered by id. Filtered by therapeutenanfrage_id — the
// follow-up job's question for every due anfrage — it reads only that
// anfrage's calls from the index instead of sorting and scanning them all;
// every filter, that one included, is still checked on each record read.
func (f *Fake) listPhoneCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	var candidates []int64
	if anfrage, ok := intFilter(q, "therapeutenanfrage_id"); ok {
		candidates = f.callsByAnfrage[anfrage]
	} else {
		candidates = sortedIDs(f.calls)
	}
	var recs []*record
	for _, id := range candidates {
		rec := f.calls[id]
		if !matchesInt(q, "therapist_id", rec) || !matchesInt(q, "patient_id", rec) ||
			!matchesInt(q, "therapeutenanfrage_id", rec) || !matchesStr(q, "status", rec) ||
			!matchesStr(q, "geplantes_datum", rec) {
			continue
		}
		switch q.Get("recipient_type") {
		case "therapist":
			if _, ok := rec.int("therapist_id"); !ok {
				continue
			}
		case "patient":
			if _, ok := rec.int("patient_id"); !ok {
				continue
			}
		}
		recs = append(recs, rec)
	}
	f.writeList(w, q, recs)
}
