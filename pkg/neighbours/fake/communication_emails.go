package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
)

var emailStatuses = []string{"Entwurf", "In_Warteschlange", "Wird_gesendet", "Gesendet", "Fehlgeschlagen"}

// Email returns the stored email record, or false.
func (f *Fake) Email(id int64) (map[string]any, bool) { return f.get(f.emails, id) }

// Emails returns the emails received over POST /api/emails, oldest first.
func (f *Fake) Emails() []Received { return f.receivedList(f.emailReqs, f.emails) }

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
