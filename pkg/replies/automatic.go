package replies

import (
	"regexp"
	"strconv"
)

// Automatic replies decide nothing: out-of-office notes, auto-replies and
// acknowledgements, delivery failures and read receipts. Patterns are in
// folded spelling.

// autoSubject is the subject of an automatic reply.
var autoSubject = regexp.MustCompile(`^(?:(?:aw|re|wg|fw|fwd) ?: ?)*(?:automatische antwort|automatic reply|auto-?reply|autoreply|abwesenheitsnotiz|abwesenheit|abwesend|out of (?:the )?office|urlaubsnotiz|urlaub|unzustellbar|undeliverable|undelivered|delivery status notification|mail delivery|returned mail|zustellung fehlgeschlagen|nicht zustellbar|gelesen|read|lesebestaetigung|empfangsbestaetigung|eingangsbestaetigung)\b`)

// autoSender sends only automatic mail.
var autoSender = regexp.MustCompile(`mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply`)

// autoBody marks an automatic reply anywhere in the answer.
var autoBody = regexp.MustCompile(`\bautomatisch (?:generiert|erstellt|erzeugt|versendet|versandt|verschickt)\w*|\bautomatische (?:antwort|abwesenheits\w*|benachrichtigung|eingangsbestaetigung|empfangsbestaetigung|nachricht)\b|\bauto-?reply\b|\bautoreply\b|\bout of (?:the )?office\b|\babwesenheitsnotiz\b|\bthis is an automat\w*|\bautomatically generated\b|\bdo not reply\b|\bantworten sie nicht auf diese\b|\bkonnte nicht (?:zugestellt|zugestellt werden)\b|\bdelivery (?:has )?failed\b|\bundeliverable\b|\bwurde (?:am .{0,40})?gelesen\b|\bwas read on\b`)

// Away and the notice that mail waits: both make an out-of-office note,
// while "in Elternzeit" alone is a human's reason.
var (
	away      = regexp.MustCompile(`\b(?:urlaub|abwesend|nicht im buero|nicht in der praxis|auf (?:einer )?fortbildung|auf (?:einem )?kongress|nicht erreichbar|praxis ist (?:\w+ ){0,6}geschlossen|on (?:vacation|holiday|leave)|away from)\b`)
	mailWaits = regexp.MustCompile(`\be-?mails? (?:\w+ ){0,4}(?:nicht|keine) (?:\w+ ){0,2}(?:gelesen|bearbeitet|beantwortet|abgerufen)|\b(?:lese|bearbeite|beantworte) (?:\w+ ){0,4}keine e-?mails?|\bnach meiner rueckkehr\b|\bwieder (?:fuer sie )?(?:erreichbar|im buero|in der praxis|da)\b|\bnicht weitergeleitet\b|\bin dringenden faellen\b|\blimited access to (?:e-?mail|my e-?mail)\b|\bupon my return\b`)
)

// isAutomatic reports whether the reply was written by a machine; answer is
// the folded answer part with its signature.
func isAutomatic(r Reply, answer string) bool {
	if autoSubject.MatchString(fold(r.Subject)) || autoSender.MatchString(fold(r.From)) {
		return true
	}
	return autoBody.MatchString(answer) || away.MatchString(answer) && mailWaits.MatchString(answer)
}

// Anfrage references, most explicit first: "Ref: A123", "Ref A-123",
// "Referenz A123", "Anfrage 123"; a bare "A123" in the subject.
var (
	refExplicit = regexp.MustCompile(`\b(?:ref|referenz|reference|aktenzeichen|az)\b\.?:? ?(?:nr\.? ?)?a ?-? ?(\d{1,12})\b|\banfrage(?:-?nr\.?| nr\.?| nummer)? ?:? ?#?a? ?-? ?(\d{1,12})(?:[^.\d]|\.\D|\.?$)`)
	refBare     = regexp.MustCompile(`(?:^|[^a-z0-9])a-?(\d{1,12})\b`)
	refBareBody = regexp.MustCompile(`(?:^|[^a-z0-9])a-?(\d{2,12})\b`)
)

// findReference returns the anfrage the reply names: in the subject, else
// in the (folded) answer, else in the quoted letter (which carries
// "Referenz A123"). The first place that names any decides; naming two
// different ones there is no reference.
func findReference(subject, answer, body string) int64 {
	s := fold(subject)
	for _, src := range []struct {
		text func() string
		re   *regexp.Regexp
	}{
		{func() string { return s }, refExplicit},
		{func() string { return s }, refBare},
		{func() string { return answer }, refExplicit},
		{func() string { return answer }, refBareBody},
		{func() string { return fold(body) }, refExplicit}, // folded only when needed: it is the largest
	} {
		var found int64
		for _, m := range src.re.FindAllStringSubmatch(src.text(), 20) {
			for _, g := range m[1:] {
				if g == "" {
					continue
				}
				n, err := strconv.ParseInt(g, 10, 64)
				if err != nil || n == 0 {
					continue
				}
				if found != 0 && found != n {
					return 0
				}
				found = n
			}
		}
		if found != 0 {
			return found
		}
	}
	return 0
}
