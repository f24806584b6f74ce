package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/neighbours"
)

// Handler returns the HTTP handler of all four services.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(ep Endpoint, service string, h http.HandlerFunc) {
		mux.HandleFunc(string(ep), f.wrap(ep, service, h))
	}
	route(CreatePatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.createPerson(w, r, "patient", f.patients, patientFields, nil)
	})
	route(GetPatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.getOne(w, r, f.patients, "Patient not found")
	})
	route(UpdatePatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.updatePerson(w, r, f.patients, patientFields, nil, "Patient not found")
	})
	route(DeletePatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.deleteOne(w, r, f.patients, "Patient not found", "Patient deleted successfully")
	})
	route(CreateTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.createPerson(w, r, "therapist", f.therapists, therapistFields, therapistStatuses)
	})
	route(ListTherapists, TherapistService, f.listTherapists)
	route(GetTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.getOne(w, r, f.therapists, "Therapist not found")
	})
	route(UpdateTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.updatePerson(w, r, f.therapists, therapistFields, therapistStatuses, "Therapist not found")
	})
	route(DeleteTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.deleteOne(w, r, f.therapists, "Therapist not found", "Therapist deleted successfully")
	})
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
	route(CalculateDistance, GeocodingService, f.calculateDistance)
	return mux
}

// wrap counts the request, waits the latency and answers injected failures
// and outages before the handler runs.
func (f *Fake) wrap(ep Endpoint, service string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.counts[ep]++
		latency := f.latency
		down := f.down[service]
		failStatus, failing := f.popFailure(ep)
		f.mu.Unlock()
		if latency > 0 {
			// Read the body first: only then does the server notice a
			// client that gives up, and end the wait.
			if r.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case failing && failStatus == 0:
			panic(http.ErrAbortHandler) // closes the connection without an answer
		case failing:
			writeJSON(w, failStatus, msg(http.StatusText(failStatus)))
		case down:
			writeJSON(w, http.StatusServiceUnavailable, msg("Service unavailable"))
		default:
			// Handlers answer while holding f.mu; the buffer lets the
			// network write happen after they have released it.
			var b buffered
			b.header = w.Header()
			h(&b, r)
			if b.status == 0 {
				b.status = http.StatusOK
			}
			w.WriteHeader(b.status)
			_, _ = w.Write(b.body.Bytes())
		}
	}
}

// buffered is a ResponseWriter that keeps the answer in memory.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// popFailure takes one injected failure of ep; f.mu is held.
func (f *Fake) popFailure(ep Endpoint) (int, bool) {
	q := f.failures[ep]
	if len(q) == 0 {
		return 0, false
	}
	status := q[0].status
	q[0].left--
	if q[0].left <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(f.failures, ep)
	} else {
		f.failures[ep] = q
	}
	return status, true
}

func msg(s string) map[string]any { return map[string]any{"message": s} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Internal server error"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// readBody reads a JSON object body; on failure it has answered 400.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, map[string]any, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, msg("Failed to read request body"))
		return nil, nil, false
	}
	m, err := decodeObject(raw)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, msg("The browser (or proxy) sent a request that this server could not understand."))
		return nil, nil, false
	}
	return raw, m, true
}

// pathID reads {id}; a non-integer id is a 404, as Flask's int converter makes it.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusNotFound, msg("The requested URL was not found on the server."))
		return 0, false
	}
	return id, true
}

func (f *Fake) getOne(w http.ResponseWriter, r *http.Request, from map[int64]*record, notFound string) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	rec, found := from[id]
	var body []byte
	if found {
		body = rec.json()
	}
	f.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return
	}
	writeRaw(w, http.StatusOK, body)
}

func (f *Fake) deleteOne(w http.ResponseWriter, r *http.Request, from map[int64]*record, notFound, deleted string) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	_, found := from[id]
	delete(from, id)
	f.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return
	}
	writeJSON(w, http.StatusOK, msg(deleted))
}

// parseKnown converts the known fields of body; unknown keys are left alone.
// update skips null values, as the reference's PUT does. A non-nil statuses
// lists the valid values of "status".
func parseKnown(body map[string]any, fields []field, statuses []string, update bool) (map[string]any, string) {
	out := map[string]any{}
	for _, fd := range fields {
		v, present := body[fd.name]
		if !present || fd.kind == kStamp || (update && v == nil) {
			continue
		}
		cv, problem := convert(fd, v)
		if problem != "" {
			return nil, problem
		}
		out[fd.name] = cv
	}
	if s, ok := out["status"].(string); ok && statuses != nil && !contains(statuses, s) {
		return nil, fmt.Sprintf("Invalid status '%s'. Valid values: %s", s, pyList(statuses))
	}
	return out, ""
}

// createPerson serves POST /api/patients and POST /api/therapists: known
// fields are parsed as the reference parses them, unknown keys kept as given,
// the id assigned by the fake.
func (f *Fake) createPerson(w http.ResponseWriter, r *http.Request, kind string, into map[int64]*record, fields []field, statuses []string) {
	_, body, ok := readBody(w, r)
	if !ok {
		return
	}
	known, problem := parseKnown(body, fields, statuses, false)
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return
	}
	for k, v := range known {
		body[k] = v
	}
	f.mu.Lock()
	f.next[kind]++
	id := f.next[kind]
	body["id"] = json.Number(strconv.FormatInt(id, 10))
	fillDefaults(body, fields, dateStamp(f.now()))
	rec := &record{m: body}
	into[id] = rec
	out := rec.json()
	f.mu.Unlock()
	writeRaw(w, http.StatusCreated, out)
}

// updatePerson serves PUT /api/patients/{id} and PUT /api/therapists/{id}:
// known fields that are not null are set ("" clears a date); unknown keys are
// ignored, as reqparse ignores them.
func (f *Fake) updatePerson(w http.ResponseWriter, r *http.Request, into map[int64]*record, fields []field, statuses []string, notFound string) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	_, body, ok := readBody(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	rec, found := into[id]
	f.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return
	}
	known, problem := parseKnown(body, fields, statuses, true)
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec, found = into[id]; !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return
	}
	for k, v := range known {
		rec.set(k, v)
	}
	rec.set("updated_at", dateStamp(f.now()))
	writeRaw(w, http.StatusOK, rec.json())
}

// pageParams reads page and limit as the reference's PaginatedListResource
// does: defaults 1 and 20, non-integers fall back to them, page ≥ 1, limit 1..1000.
func pageParams(q url.Values) (page, limit int) {
	page, limit = 1, 20
	if v, err := strconv.Atoi(q.Get("page")); err == nil {
		page = max(v, 1)
	}
	if v, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = min(max(v, 1), 1000)
	}
	return page, limit
}

// writeList answers one page of recs, in the shape {data, page, limit, total}
// or, after SetBareLists(true), as a bare array. f.mu is held (w is buffered).
func (f *Fake) writeList(w http.ResponseWriter, q url.Values, recs []*record) {
	page, limit := pageParams(q)
	from := min((page-1)*limit, len(recs))
	to := min(from+limit, len(recs))
	var b bytes.Buffer
	if !f.bareLists {
		b.WriteString(`{"data":`)
	}
	b.WriteByte('[')
	for i, rec := range recs[from:to] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(rec.json())
	}
	b.WriteByte(']')
	if !f.bareLists {
		fmt.Fprintf(&b, `,"page":%d,"limit":%d,"total":%d}`, page, limit, len(recs))
	}
	writeRaw(w, http.StatusOK, b.Bytes())
}

// listTherapists serves GET /api/therapists with the filters status,
// plz_prefix and potenziell_verfuegbar, ordered by id.
func (f *Fake) listTherapists(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, prefix := q.Get("status"), q.Get("plz_prefix")
	f.mu.Lock()
	defer f.mu.Unlock()
	var recs []*record
	for _, id := range sortedIDs(f.therapists) {
		rec := f.therapists[id]
		if status != "" && rec.str("status") != status {
			continue
		}
		if prefix != "" && !strings.HasPrefix(rec.str("plz"), prefix) {
			continue
		}
		if pv := q.Get("potenziell_verfuegbar"); pv != "" {
			b, _ := rec.m["potenziell_verfuegbar"].(bool)
			if b != (pv == "true" || pv == "1") {
				continue
			}
		}
		recs = append(recs, rec)
	}
	f.writeList(w, q, recs)
}

// createEmail serves POST /api/emails with the reference's checks, in its order.
func (f *Fake) createEmail(w http.ResponseWriter, r *http.Request) {
	raw, body, ok := readBody(w, r)
	if !ok {
		return
	}
	args, problem := parseArgs(body, []arg{
		{"therapist_id", kInt, ""}, {"patient_id", kInt, ""},
		{"betreff", kString, "Betreff is required"},
		{"inhalt_html", kString, ""}, {"inhalt_text", kString, ""}, {"inhalt_markdown", kString, ""},
		{"empfaenger_email", kString, "Empfaenger email is required"},
		{"empfaenger_name", kString, "Empfaenger name is required"},
		{"absender_email", kString, ""}, {"absender_name", kString, ""},
		{"add_legal_footer", kBool, ""}, {"status", kString, ""},
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
	switch {
	case args.str("inhalt_html") == "" && args.str("inhalt_text") == "" && args.str("inhalt_markdown") == "":
		writeJSON(w, http.StatusBadRequest, msg("Either inhalt_html, inhalt_text, or inhalt_markdown is required"))
		return
	}
	htmlBody, textBody := args.str("inhalt_html"), args.str("inhalt_text")
	if md := args.str("inhalt_markdown"); md != "" {
		htmlBody, textBody = markdownToHTML(md), md
	}
	if footer, given := args["add_legal_footer"].(bool); footer || !given {
		htmlBody += "\n<hr>\n<p>Curavani Fake GmbH</p>"
		textBody += "\n\n--\nCuravani Fake GmbH"
	}
	status := "Entwurf"
	if s := args.str("status"); s != "" {
		if !contains(emailStatuses, s) {
			writeJSON(w, http.StatusBadRequest, msg(fmt.Sprintf("Invalid status '%s'. Valid values: %s", s, pyList(emailStatuses))))
			return
		}
		status = s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := isoStamp(f.now())
	var queued any
	if status == "In_Warteschlange" {
		queued = now
	}
	f.next["email"]++
	id := f.next["email"]
	rec := &record{m: map[string]any{
		"id":                  json.Number(strconv.FormatInt(id, 10)),
		"therapist_id":        nullID(therapistID),
		"patient_id":          nullID(patientID),
		"betreff":             args.str("betreff"),
		"inhalt_html":         htmlBody,
		"inhalt_text":         textBody,
		"empfaenger_email":    args.str("empfaenger_email"),
		"empfaenger_name":     args.str("empfaenger_name"),
		"absender_email":      orDefault(args.str("absender_email"), "info@curavani.example"),
		"absender_name":       orDefault(args.str("absender_name"), "Curavani"),
		"antwort_erhalten":    false,
		"antwortdatum":        nil,
		"antwortinhalt":       nil,
		"status":              status,
		"in_warteschlange_am": queued,
		"gesendet_am":         nil,
		"fehlermeldung":       nil,
		"wiederholungsanzahl": json.Number("0"),
		"created_at":          now,
		"updated_at":          nil,
	}}
	f.emails[id] = rec
	f.emailReqs = append(f.emailReqs, received{id: id, raw: bytes.Clone(raw)})
	writeRaw(w, http.StatusCreated, rec.json())
}

// updateEmail serves PUT /api/emails/{id}.
func (f *Fake) updateEmail(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	_, body, ok := readBody(w, r)
	if !ok {
		return
	}
	args, problem := parseArgs(body, []arg{
		{"status", kString, ""}, {"antwort_erhalten", kBool, ""}, {"antwortdatum", kString, ""},
		{"antwortinhalt", kString, ""}, {"fehlermeldung", kString, ""},
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, found := f.emails[id]
	if !found {
		writeJSON(w, http.StatusNotFound, msg("Email not found"))
		return
	}
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return
	}
	if s := args.str("status"); s != "" && !contains(emailStatuses, s) {
		writeJSON(w, http.StatusBadRequest, msg(fmt.Sprintf("Invalid status '%s'. Valid values: %s", s, pyList(emailStatuses))))
		return
	}
	if d := args.str("antwortdatum"); d != "" && !isoDateTime(d) {
		writeJSON(w, http.StatusBadRequest, msg("Invalid datetime format for antwortdatum. Use ISO format"))
		return
	}
	now := isoStamp(f.now())
	for k, v := range args {
		if v != nil {
			rec.set(k, v)
		}
	}
	switch rec.str("status") {
	case "In_Warteschlange":
		if rec.m["in_warteschlange_am"] == nil {
			rec.set("in_warteschlange_am", now)
		}
	case "Gesendet":
		if rec.m["gesendet_am"] == nil {
			rec.set("gesendet_am", now)
		}
	}
	rec.set("updated_at", now)
	writeRaw(w, http.StatusOK, rec.json())
}

// listEmails serves GET /api/emails, newest first, with the filters
// therapist_id, patient_id and status.
func (f *Fake) listEmails(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := sortedIDs(f.emails)
	var recs []*record
	for i := len(ids) - 1; i >= 0; i-- {
		rec := f.emails[ids[i]]
		if matchesInt(q, "therapist_id", rec) && matchesInt(q, "patient_id", rec) && matchesStr(q, "status", rec) {
			recs = append(recs, rec)
		}
	}
	f.writeList(w, q, recs)
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

var plzPattern = regexp.MustCompile(`\b(\d{5})\b`)

// plzOf returns the first five-digit number of an address.
func plzOf(address string) string {
	if m := plzPattern.FindStringSubmatch(address); m != nil {
		return m[1]
	}
	return ""
}

// calculateDistance serves GET /api/calculate-distance. A distance set with
// SetDistance wins; otherwise it is |PLZ1 − PLZ2| / 10 km from the first
// five-digit number of each address, and an address without one cannot be
// resolved (status "error", distance_km 0, as the reference answers).
func (f *Fake) calculateDistance(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	origin, dest, mode := q.Get("origin"), q.Get("destination"), q.Get("travel_mode")
	if mode == "" {
		mode = "car"
	}
	if mode != "car" && mode != "transit" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string]string{"travel_mode": "Mode of transport (car or transit)"}})
		return
	}
	if origin == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "Origin is required (address or coordinates)"})
		return
	}
	if dest == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "Destination is required (address or coordinates)"})
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, neighbours.DistanceQuery{Origin: origin, Destination: dest, TravelMode: mode})
	d, found := f.lookupDistance(origin, dest)
	f.mu.Unlock()
	if !found {
		p1, p2 := plzOf(origin), plzOf(dest)
		if p1 == "" || p2 == "" {
			d = distance{none: true}
		} else {
			n1, _ := strconv.Atoi(p1)
			n2, _ := strconv.Atoi(p2)
			d = distance{km: math.Abs(float64(n1-n2)) / 10}
		}
	}
	if d.none {
		writeJSON(w, http.StatusOK, map[string]any{"distance_km": 0, "status": "error", "error": "Could not resolve coordinates"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"distance_km": d.km, "status": "success", "source": "fake", "travel_mode": mode, "route_available": true,
	})
}

// lookupDistance finds a distance set for the pair, exact addresses before
// PLZs, in either direction; f.mu is held.
func (f *Fake) lookupDistance(origin, dest string) (distance, bool) {
	okeys, dkeys := []string{origin}, []string{dest}
	if p := plzOf(origin); p != "" && p != origin {
		okeys = append(okeys, p)
	}
	if p := plzOf(dest); p != "" && p != dest {
		dkeys = append(dkeys, p)
	}
	for _, o := range okeys {
		for _, d := range dkeys {
			if v, ok := f.distances[[2]string{o, d}]; ok {
				return v, true
			}
			if v, ok := f.distances[[2]string{d, o}]; ok {
				return v, true
			}
		}
	}
	return distance{}, false
}

// arg is one reqparse argument of a communication-service endpoint.
type arg struct {
	name     string
	kind     kind
	required string // the help text when the argument is required
}

// args are parsed arguments: strings, bools, json.Number ints, or nil.
type args map[string]any

func (a args) str(k string) string {
	s, _ := a[k].(string)
	return s
}

func (a args) id(k string) int64 {
	i, _ := intValue(a[k])
	return i
}

// parseArgs parses body as the reference's reqparse does; the first problem
// comes back flattened as "field: message".
func parseArgs(body map[string]any, spec []arg) (args, string) {
	out := args{}
	for _, a := range spec {
		v, present := body[a.name]
		if a.required != "" && (!present || v == nil) {
			return nil, a.name + ": " + a.required
		}
		cv, problem := convert(field{name: a.name, kind: a.kind}, v)
		if problem != "" {
			return nil, problem
		}
		out[a.name] = cv
	}
	return out, ""
}

func matchesInt(q url.Values, key string, rec *record) bool {
	w, filtered := intFilter(q, key)
	if !filtered {
		return true
	}
	got, ok := rec.int(key)
	return ok && got == w
}

// intFilter reads an integer filter of a list; ok is false when the list is
// not filtered by key (the reference ignores 0 and non-integers).
func intFilter(q url.Values, key string) (int64, bool) {
	w, err := strconv.ParseInt(q.Get(key), 10, 64)
	if err != nil || w == 0 {
		return 0, false
	}
	return w, true
}

func matchesStr(q url.Values, key string, rec *record) bool {
	want := q.Get(key)
	return want == "" || rec.str(key) == want
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

// parseISODate accepts what Python's date.fromisoformat accepts for matching's
// purposes: YYYY-MM-DD, optionally followed by a time, which is dropped.
func parseISODate(s string) (string, error) {
	if len(s) >= 10 {
		if t, err := time.Parse("2006-01-02", s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", fmt.Errorf("invalid date %q", s)
}

// parseClock reads H:MM or HH:MM (seconds allowed) and returns HH:MM.
func parseClock(s string) (string, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("invalid time %q", s)
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return "", fmt.Errorf("invalid time %q", s)
	}
	return fmt.Sprintf("%02d:%02d", h, m), nil
}

// isoDateTime reports whether s parses as an ISO date or datetime.
func isoDateTime(s string) bool {
	s = strings.Replace(s, "Z", "+00:00", 1)
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05.999999-07:00", "2006-01-02 15:04:05"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// markdownToHTML is a small stand-in for the service's markdown renderer:
// paragraphs on blank lines, line breaks kept, text escaped.
func markdownToHTML(md string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(para), "\n", "<br>\n"))
		b.WriteString("</p>\n")
	}
	return b.String()
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
