package replies

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The clerk's first step: find what the therapist wrote. The quoted original
// letter is never the answer, and neither are greetings, closings,
// signatures and footers. The checks below work on folded lines (see fold).

// quoteHeader starts the quoted original in any mail client's style: the
// separator lines of Outlook and Thunderbird, "Am … schrieb …:" and
// "On … wrote:" attributions.
var quoteHeader = []*regexp.Regexp{
	regexp.MustCompile(`^-{2,} ?(?:urspruengliche|original|weitergeleitete|forwarded) (?:nachricht|message)`),
	regexp.MustCompile(`^-{2,} ?(?:original|urspruengliche) ?-{2,}`),
	regexp.MustCompile(`^(?:am|on) .{0,200}\b(?:schrieb|wrote)\b`),
	regexp.MustCompile(`\b(?:schrieb|wrote)(?: am .{0,80})?: ?$`),
}

// attribution is the one-line header under which mail clients quote with
// "> ": the only header after which an answer may still follow, between the
// quoted lines (an inline reply).
var attribution = regexp.MustCompile(`^(?:am|on) .{0,200}\b(?:schrieb|wrote)\b|\b(?:schrieb|wrote)(?: am .{0,80})?: ?$`)

// mailHeader is a "Von:" / "From:" line; with a "Gesendet:", "An:" or
// "Betreff:" line close below it starts a quoted original (Outlook without
// separator line).
var (
	mailHeaderFrom = regexp.MustCompile(`^\*?(?:von|from|absender)\*? ?:`)
	mailHeaderNext = regexp.MustCompile(`^\*?(?:gesendet|sent|datum|date|an|to|betreff|subject|cc)\*? ?:`)
)

// letterLine is a line of our own letter: the person sections and the fixed
// sentences of pkg/matching's RenderEmail. It starts quoted text even without
// any header (a reply that pastes the letter below itself).
var letterLine = regexp.MustCompile(`^(?:#{1,3} ?person \d|-? ?\**patienten-id\**:|wir suchen (?:einen )?psychotherapiepl|haetten sie in naechster zeit|zum schutz der daten nennen wir|bitte geben sie bei ihrer antwort die referenz|wir sind curavani|ihr curavani-team)`)

// letterPerson is the "## Person N" header of a quoted letter section.
var letterPerson = regexp.MustCompile(`^#{1,3} ?person (\d{1,2})\b`)

// letterAfterPeople are quoted lines that follow the last person section:
// below them an inline answer no longer answers a person.
var letterAfterPeople = regexp.MustCompile(`^(?:haetten sie|bitte geben sie|wenn sie weitere|mit freundlichen|ihr curavani|\*\*ps)`)

// greeting is a line that only greets ("Sehr geehrte Damen und Herren,").
var greeting = regexp.MustCompile(`^(?:sehr geehrte|liebe|lieber|liebes|hallo|hi|hey|guten (?:tag|morgen|abend)|moin|servus|gruess gott|gruezi|hello|dear|werte)\b`)

// closing is a line that starts the closing formula ("Mit freundlichen
// Grüßen", "LG Nina Graf", "Gruß aus Hamburg"); everything below it is the
// signature.
var closing = regexp.MustCompile(`^(?:mit )?(?:(?:den )?(?:freundliche|freundlichen|beste|besten|viele|vielen|liebe|lieben|herzliche|herzlichen|schoene|schoenen|sonnige|sonnigen|kollegiale|kollegialen|gute|guten|hochachtungsvoll)\b ?)*(?:gruesse|gruessen|gruss|grusse|gruß)\b|^(?:mfg|lg|vg|bg|sg|hg|gruss|gruesse|cheers|regards|best regards|kind regards|best wishes|best|herzlichst|hochachtungsvoll|beste wuensche|danke und gruss|viele gruesse|liebe gruesse|tschuess|ciao)\b`)

// signatureStart is a line that starts a signature or footer block: the
// "-- " delimiter, mobile footers, disclaimers.
var signatureStart = regexp.MustCompile(`^(?:-- ?|_{3,}|={3,}|\*{3,}|(?:gesendet|sent|von meinem|sent from) .{0,40}(?:iphone|ipad|android|handy|mobil|mobile|smartphone|outlook|samsung|galaxy)|(?:diese (?:e-?mail|nachricht) (?:enthaelt|ist|kann)|this (?:e-?mail|message) (?:contains|is|may)|vertraulichkeitshinweis|datenschutzhinweis|hinweis zum datenschutz|confidentiality))`)

// signatureLine is a line of a signature block without closing formula:
// phone, address, mail, web, professional titles.
var signatureLine = regexp.MustCompile(`\b(?:tel|telefon|fon|fax|mobil|handy|e-?mail|mail|web|www)\b\.?:?|@|https?://|www\.|\b\d{5} [a-z]|(?:str\.|strasse|weg|platz|allee|gasse|ring|damm|ufer) ?\d|\bdipl\.|psycholog|psychotherapeut|\bm\. ?sc\b|\bb\. ?sc\b|\bdr\.|facharzt|fachaerztin|\bpraxis\b|approbiert|kassenzulassung fuer|heilpraktiker|\b\d[\d /-]{6,}\d\b|[|]`)

// answerLine is one line of the answer with the person the line answers
// when it stands below that person's quoted section (an inline reply).
type answerLine struct {
	text   string
	person int // Person number answered inline; 0 for none
}

type answer struct {
	full  string // the answer with greeting and signature (auto-reply markers hide there)
	lines []answerLine
}

// extractAnswer returns the therapist's own text of body.
func extractAnswer(body string) answer {
	raw := strings.Split(body, "\n")
	if len(raw) > maxLines {
		raw = raw[:maxLines]
	}
	folded := make([]string, len(raw))
	for i, l := range raw {
		folded[i] = fold(clip(l, 2000))
	}

	end := len(raw)
	inline := false // an attribution was found with an inline reply below it
	for i := range raw {
		if startsQuote(folded, i, &inline) {
			end = i
			break
		}
	}
	kept := keepUnquoted(raw[:end], folded[:end])

	var full strings.Builder
	for _, l := range kept {
		full.WriteString(l.text + "\n")
	}
	return answer{full: clip(full.String(), maxAnswerBytes), lines: trimAnswer(kept)}
}

// startsQuote reports whether line i starts the quoted original for good:
// a separator, an Outlook header block, a line of our letter outside "> ",
// or an attribution not followed by an inline reply.
func startsQuote(folded []string, i int, inline *bool) bool {
	l := folded[i]
	if strings.HasPrefix(l, ">") {
		return false
	}
	if letterLine.MatchString(l) {
		return true
	}
	if mailHeaderFrom.MatchString(l) {
		for j := i + 1; j < len(folded) && j <= i+5; j++ {
			if mailHeaderNext.MatchString(folded[j]) {
				return true
			}
		}
	}
	// An attribution wrapped over two lines ("Am Mo., 10. Juni 2024 um 08:02
	// Uhr schrieb Curavani <" / "anfragen@curavani.de>:") counts on its
	// first line.
	joined := l
	if (strings.HasPrefix(l, "am ") || strings.HasPrefix(l, "on ")) && i+1 < len(folded) {
		joined = l + " " + folded[i+1]
	}
	for _, re := range quoteHeader {
		if !re.MatchString(joined) {
			continue
		}
		if attribution.MatchString(joined) {
			// Decided once: the scan below the first attribution covers
			// every later one, and doing it again would be quadratic.
			if *inline || inlineAnswerBelow(folded, i+1) {
				*inline = true
				return false
			}
		}
		return true
	}
	if strings.HasPrefix(l, "____") && i+1 < len(folded) && mailHeaderFrom.MatchString(folded[i+1]) {
		return true
	}
	return false
}

// inlineAnswerBelow reports whether, below line from, a "> " quoted block is
// followed by unquoted text that is no closing or signature: the therapist
// answered between the quoted lines.
func inlineAnswerBelow(folded []string, from int) bool {
	quoted := false
	for j := from; j < len(folded); j++ {
		l := folded[j]
		switch {
		case l == "":
		case strings.HasPrefix(l, ">"):
			quoted = true
		case quoted && !closing.MatchString(l) && !signatureStart.MatchString(l) && !signatureLine.MatchString(l) && len(strings.Fields(l)) > 2:
			return true
		}
	}
	return false
}

// keepUnquoted drops "> " lines and the attribution above them, and marks
// each kept line below a quoted "## Person N" section with N.
func keepUnquoted(raw, folded []string) []answerLine {
	var out []answerLine
	person := 0
	for i, l := range raw {
		f := folded[i]
		if strings.HasPrefix(f, ">") {
			q := strings.TrimSpace(strings.TrimLeft(f, "> "))
			if m := letterPerson.FindStringSubmatch(q); m != nil {
				person, _ = strconv.Atoi(m[1])
			} else if letterAfterPeople.MatchString(q) {
				person = 0
			}
			continue
		}
		if attribution.MatchString(f) {
			continue
		}
		out = append(out, answerLine{text: l, person: person})
	}
	return out
}

// trimAnswer drops the greeting lines at the top and everything from the
// closing formula or signature on, and a trailing block of signature-like
// lines when there is no closing formula.
func trimAnswer(lines []answerLine) []answerLine {
	lastInline := -1
	for i, l := range lines {
		if l.person != 0 && strings.TrimSpace(l.text) != "" {
			lastInline = i
		}
	}
	var out []answerLine
	started := false
	for i, l := range lines {
		f := fold(l.text)
		if !started {
			if f == "" || isGreeting(f) {
				continue
			}
			started = true
		}
		// In an inline reply the closing stands below the last answer;
		// one above it ends nothing.
		if signatureStart.MatchString(f) || (closing.MatchString(f) && len(f) <= 60 && i > lastInline) {
			break
		}
		out = append(out, l)
	}
	// A signature without closing formula: drop trailing paragraphs whose
	// every line looks like a signature line.
	for {
		end := len(out)
		for end > 0 && strings.TrimSpace(out[end-1].text) == "" {
			end--
		}
		start := end
		for start > 0 && strings.TrimSpace(out[start-1].text) != "" {
			start--
		}
		if start == end || !allSignature(out[start:end]) {
			return out[:end]
		}
		out = out[:start]
	}
}

// allSignature reports whether every line looks like a signature line:
// name, title, address, phone, mail, and not a sentence.
func allSignature(lines []answerLine) bool {
	for _, l := range lines {
		t := strings.TrimSpace(l.text)
		if len(t) > 100 || strings.HasSuffix(t, "?") || strings.HasSuffix(t, "!") || isSentence(t) {
			return false
		}
		if !signatureLine.MatchString(fold(t)) && !nameLike(t) {
			return false
		}
	}
	return true
}

// isSentence reports a line that ends with a full stop after several
// words, some of them lower case: prose, not a signature.
func isSentence(t string) bool {
	if !strings.HasSuffix(t, ".") {
		return false
	}
	lower := 0
	for _, w := range strings.Fields(t) {
		if r := []rune(w); unicode.IsLower(r[0]) {
			lower++
		}
	}
	return lower >= 2
}

// isGreeting reports a line that only greets: "Sehr geehrte Frau Dr. Roth,",
// "Hallo zusammen", "Moin!".
func isGreeting(f string) bool {
	if !greeting.MatchString(f) || len(f) > 70 {
		return false
	}
	return strings.HasSuffix(f, ",") || strings.HasSuffix(f, "!") || !strings.ContainsAny(f, ".?:")
}

// nameLike reports a short line of capitalised words or initials without
// digits or sentence marks: a name under a reply ("K. Seidel", "Nina Graf").
func nameLike(l string) bool {
	words := strings.Fields(l)
	if len(words) == 0 || len(words) > 4 || strings.ContainsAny(l, "0123456789?!:;,") {
		return false
	}
	for _, w := range words {
		switch w {
		case "von", "van", "de", "zu", "und", "&":
			continue
		}
		r := []rune(w)
		if !unicode.IsUpper(r[0]) {
			return false
		}
	}
	return true
}
