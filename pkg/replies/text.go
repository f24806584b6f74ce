package replies

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits that keep Parse linear and bounded on any input. A real answer is a
// few hundred words above the quoted letter; everything past these limits is
// quoted text, attachments pasted inline or junk.
const (
	maxBodyBytes     = 64 << 10 // bytes of the body looked at at all
	maxLines         = 4000     // lines of the body looked at
	maxAnswerBytes   = 16 << 10 // bytes of the answer part that are read
	maxSentences     = 150      // sentences of the answer part that are read
	maxSentenceBytes = 600      // a longer "sentence" is cut
)

// plainText caps the body, makes it valid UTF-8, turns simple HTML into text
// lines and unifies line breaks and spaces.
func plainText(body string) string {
	if len(body) > maxBodyBytes {
		body = body[:maxBodyBytes]
	}
	body = strings.ToValidUTF8(body, " ")
	if looksLikeHTML(body) {
		body = htmlToText(body)
	}
	body = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\t", " ", "\u00a0", " ", "\u202f", " ",
		"\u2007", " ", "\u200b", "", "\u200c", "", "\u200d", "", "\ufeff", "", "\x00", " ").Replace(body)
	return body
}

var htmlHint = regexp.MustCompile(`(?i)<(?:html|body|div|p|br|blockquote|span|table)\b`)

func looksLikeHTML(s string) bool { return htmlHint.MatchString(s) }

var (
	htmlBlockquote = regexp.MustCompile(`(?i)<blockquote\b`)
	htmlBreak      = regexp.MustCompile(`(?i)<br\s*/?>|</(?:p|div|li|tr|h[1-6])\s*>|<(?:p|div|li|tr|h[1-6])\b[^>]*>`)
	htmlDrop       = regexp.MustCompile(`(?is)<(?:style|script|head)\b.*?</(?:style|script|head)\s*>`)
	htmlTag        = regexp.MustCompile(`(?s)<[^>]{0,1000}>`)
)

// htmlToText keeps what is above the first <blockquote> (HTML mail clients
// quote the original letter in one), turns block ends into line breaks and
// drops every other tag.
func htmlToText(s string) string {
	if loc := htmlBlockquote.FindStringIndex(s); loc != nil {
		s = s[:loc[0]] + "\n-----Ursprüngliche Nachricht-----\n"
	}
	s = htmlDrop.ReplaceAllString(s, " ")
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlTag.ReplaceAllString(s, "")
	return html.UnescapeString(s)
}

// foldReplacer spells German the one way the lexicon is written: lower case,
// ä ö ü as ae oe ue, ß as ss, typographic dashes and quotes as ASCII, other
// accents dropped. "Grüße", "Gruesse" and "Grüsse" all become "gruesse".
var foldReplacer = strings.NewReplacer(
	"ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss",
	"é", "e", "è", "e", "ê", "e", "á", "a", "à", "a", "â", "a", "ó", "o", "ò", "o", "ô", "o",
	"í", "i", "ì", "i", "î", "i", "ú", "u", "ù", "u", "û", "u", "ç", "c", "ñ", "n",
	"–", "-", "—", "-", "‑", "-", "‐", "-", "−", "-",
	"„", `"`, "“", `"`, "”", `"`, "‚", "'", "‘", "'", "’", "'", "«", `"`, "»", `"`,
	"…", "...", "•", "-", "·", "-",
)

// genderForm turns the gender-inclusive spellings Patient*in, Patient:in,
// Patient_in, Patient/in and Patient(in) into "patient_in", one neutral word
// the lexicon can tell apart from "patientin".
var genderForm = regexp.MustCompile(`([a-z])(?:\*|:|_|/|\(|/-)(in|innen)\)?\b`)

// fold normalises s for matching: see foldReplacer and genderForm; runs of
// white space become one space.
func fold(s string) string {
	s = foldReplacer.Replace(strings.ToLower(s))
	if strings.Contains(s, "in") && strings.ContainsAny(s, "*:_/(") {
		s = genderForm.ReplaceAllString(s, "${1}_$2")
	}
	return strings.Join(strings.Fields(s), " ")
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
