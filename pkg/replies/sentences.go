package replies

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The clerk's second step: read the answer sentence by sentence. A unit is
// a paragraph or one list item ("- Person 1: …", "#3301: …", "2301 – ja");
// what a sentence without its own reference says is about the people the
// sentence before it in the same unit was about.

// bullet is a list marker at the start of a line.
var bullet = regexp.MustCompile(`^\s*(?:[-*•·◦▪–—]|\d{1,2}[.)]|[a-zA-Z]\))\s+`)

// labelStart is a line that starts with a reference to a person, which
// makes it a list item even without a list marker.
var labelStart = regexp.MustCompile(`^(?:person(?:en)? ?(?:nr\.? ?|nummer ?)?\d|nr\.? ?\d|nummer ?\d|#\d|(?:patienten-?|pat\.?-?)?id\b|pat(?:ient\w*)?\.? ?\d|p\d\b|\d{3,} ?[-:(–])`)

type unit struct {
	sentences []string // as the therapist wrote them
	person    int      // Person number of an inline answer; 0 for none
	colon     bool     // the unit ends with ":", a header for the list below
}

// units groups the answer lines into paragraphs and list items and splits
// each into sentences, cutting at an inline closing formula ("… frei. MfG
// R. Schwarz"). At most maxSentences sentences are kept.
func units(lines []answerLine) []unit {
	var out []unit
	var cur []string
	curPerson := 0
	budget := maxAnswerBytes
	flush := func() {
		if len(cur) > 0 {
			text := joinLines(cur)
			u := unit{sentences: splitSentences(text), person: curPerson, colon: strings.HasSuffix(strings.TrimSpace(text), ":")}
			out = append(out, u)
		}
		cur = nil
	}
	for _, l := range lines {
		if budget <= 0 {
			break
		}
		text := clip(l.text, budget)
		budget -= len(text) + 1
		trimmed := strings.TrimSpace(text)
		if trimmed == "" {
			flush()
			continue
		}
		if loc := bullet.FindStringIndex(trimmed); loc != nil {
			flush()
			trimmed = strings.TrimSpace(trimmed[loc[1]:])
		} else if labelStart.MatchString(fold(trimmed)) || l.person != curPerson {
			flush()
		}
		curPerson = l.person
		cur = append(cur, trimmed)
	}
	flush()

	// Cut at a closing formula inside a line and keep maxSentences.
	n := 0
	for i := range out {
		for j, s := range out[i].sentences {
			if closing.MatchString(fold(s)) || n == maxSentences {
				out[i].sentences = out[i].sentences[:j]
				return dropEmpty(out[:i+1])
			}
			n++
		}
	}
	return out
}

func dropEmpty(us []unit) []unit {
	out := us[:0]
	for _, u := range us {
		if len(u.sentences) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// joinLines joins the lines of a paragraph: a line that ends a sentence, or
// a short line, ends its sentence; a long line without final punctuation
// was wrapped by the mail client and continues on the next.
func joinLines(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			prev := lines[i-1]
			last, _ := utf8.DecodeLastRuneInString(prev)
			if strings.ContainsRune(".!?:;", last) || utf8.RuneCountInString(prev) < 50 {
				b.WriteString("\n")
			} else {
				b.WriteString(" ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

// abbreviations end with a dot that ends no sentence (folded, without it).
var abbreviations = map[string]bool{
	"dr": true, "nr": true, "z.b": true, "bzw": true, "ca": true, "ggf": true, "evtl": true, "u.a": true,
	"usw": true, "etc": true, "tel": true, "str": true, "dipl": true, "psych": true, "med": true, "phil": true,
	"rer": true, "nat": true, "mo": true, "di": true, "mi": true, "do": true, "fr": true, "sa": true, "so": true,
	"jan": true, "feb": true, "mrz": true, "apr": true, "jun": true, "jul": true, "aug": true, "sep": true,
	"sept": true, "okt": true, "nov": true, "dez": true, "vgl": true, "inkl": true, "zzgl": true, "bspw": true,
	"d.h": true, "u.u": true, "o.ae": true, "s.o": true, "s.u": true, "m.sc": true, "b.sc": true, "std": true,
	"min": true, "max": true, "ref": true, "pat": true, "prof": true, "hr": true, "fa": true, "abs": true,
	"allg": true, "sog": true, "gem": true, "lt": true, "ggfs": true, "zb": true, "mind": true, "j": true,
	"bzgl": true, "einschl": true, "zt": true, "z.t": true, "wg": true, "u": true, "o": true, "v": true,
}

// splitSentences splits a unit at line breaks and at . ! ? followed by space
// and a capital letter or digit, except after abbreviations, initials and
// numbers ("am 3. Juni", "Dr. Roth", "R. Schwarz"). Each sentence is cut to
// maxSentenceBytes.
func splitSentences(text string) []string {
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, clip(s, maxSentenceBytes))
		}
	}
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' {
			add(text[start:i])
			start = i + 1
			continue
		}
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		j := i + 1
		for j < len(text) && (text[j] == '.' || text[j] == '!' || text[j] == '?' || text[j] == ')' || text[j] == '"') {
			j++
		}
		if j >= len(text) || text[j] != ' ' {
			continue
		}
		k := j
		for k < len(text) && text[k] == ' ' {
			k++
		}
		if k >= len(text) {
			continue
		}
		// A capital letter or digit starts the next sentence; after a full
		// stop of a long enough sentence a small letter does too, for those
		// who write everything in small letters.
		next, _ := utf8.DecodeRuneInString(text[k:])
		if !unicode.IsUpper(next) && !unicode.IsDigit(next) && !strings.ContainsRune("(\"#-„*", next) &&
			(c != '.' || i-start < 20 || !unicode.IsLetter(next)) {
			continue
		}
		if c == '.' && noSentenceEnd(text[start:i]) {
			continue
		}
		add(text[start:j])
		start = j
		i = j - 1
	}
	add(text[start:])
	return out
}

// noSentenceEnd reports whether the dot after before belongs to an
// abbreviation, an initial or a number.
func noSentenceEnd(before string) bool {
	f := strings.Fields(before[max(0, len(before)-40):])
	if len(f) == 0 {
		return true
	}
	w := strings.TrimLeft(fold(f[len(f)-1]), "(\"'")
	if w == "" {
		return true
	}
	if abbreviations[w] || abbreviations[strings.TrimSuffix(w, ".")] {
		return true
	}
	if utf8.RuneCountInString(w) == 1 {
		return true // an initial: "R. Schwarz"
	}
	allDigits := true
	for _, r := range w {
		if !unicode.IsDigit(r) && r != '.' {
			allDigits = false
		}
	}
	return allDigits // "am 3. Juni", "14.05. um"
}

// The clerk reads a sentence clause by clause: "Person 1 gerne – Person 2
// leider nicht" says two things about two people.

// contrast splits a sentence into clauses that may speak of different
// people or say different things: "Person 1 gerne – Person 2 leider nicht",
// "…, aber …", "…; …".
var contrast = regexp.MustCompile(`; | - |, (?:aber|jedoch|doch|dagegen|sondern|allerdings|waehrend|wohingegen|hingegen) `)

// colleagueStart begins a clause about someone else's practice ("…, aber
// meine Kollegin hat noch Plätze"), which must not mix with the therapist's
// own statement before it.
var colleagueStart = regexp.MustCompile(`(?:, | und | aber )((?:aber |doch )?(?:meine|eine|unsere) (?:\w+ )?(?:kollegin|kollege|kollegen|praxiskolleg\w*|nachfolger\w*)\b)`)

// clauses splits a folded sentence into clauses.
func clauses(f string) []string {
	var out []string
	for _, part := range splitKeep(f, contrast) {
		if loc := colleagueStart.FindStringSubmatchIndex(part); loc != nil && loc[0] > 0 {
			out = append(out, splitAtNewReference(strings.TrimSpace(part[:loc[0]]))...)
			out = append(out, strings.TrimSpace(part[loc[2]:]))
			continue
		}
		out = append(out, splitAtNewReference(part)...)
	}
	return out
}

// splitKeep splits s at re, dropping the separators.
func splitKeep(s string, re *regexp.Regexp) []string {
	var out []string
	last := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if t := strings.TrimSpace(s[last:m[0]]); t != "" {
			out = append(out, t)
		}
		last = m[1]
	}
	if t := strings.TrimSpace(s[last:]); t != "" {
		out = append(out, t)
	}
	return out
}

// maxSplits is how many commas of one clause are tried as clause starts.
const maxSplits = 12

// splitAtNewReference starts a new clause at ", " or " und " before a new
// reference, when what precedes already names someone and says something
// and what follows says something of its own or negates ("Person 1 nehme
// ich, Person 2 leider nicht"). Otherwise the names are one list sharing
// the statement ("ich kann zwei nehmen: die Frau (Person 2) und den Herrn
// (Person 5)", "den Herrn nehme ich, die Dame ebenfalls").
func splitAtNewReference(part string) []string {
	locs := listSeparator.FindAllStringIndex(part, -1)
	if len(locs) == 0 {
		return []string{part}
	}
	var out []string
	from := 0
	if len(locs) > maxSplits {
		locs = locs[:maxSplits] // bounds the work on a pathological sentence
	}
	for _, l := range locs {
		head, rest := part[from:l[0]], part[l[1]:]
		if !refStart.MatchString(rest) {
			continue
		}
		// "Person 1 und Person 2": one list, whatever follows.
		if part[l[0]:l[1]] != ", " && endsWithName.MatchString(head) {
			continue
		}
		if !namesSomeone(head) || !sig(head).any() {
			continue
		}
		if tail := part[l[1]:]; !sig(tail).any() && !negation.MatchString(tail) && onlyNames(tail, 0) {
			continue
		}
		out = append(out, strings.TrimSpace(head))
		from = l[1]
	}
	return append(out, strings.TrimSpace(part[from:]))
}

var listSeparator = regexp.MustCompile(`, | und | sowie `)

// endsWithName is a part ending in a name: a list may go on after it.
var endsWithName = regexp.MustCompile(`(?:\b(?:person|nr\.?|nummer|id|patient\w*|pat\.)|#) ?\d+\)?$|\(\w* ?\d+\)$`)

// nameWord are the words a list of names is made of: articles and
// prepositions, person words, numbers, ages, adjectives, symptoms, and the
// "ebenfalls" that repeats the statement before it.
var nameWord = regexp.MustCompile(`^(?:der|die|den|dem|das|des|fuer|bei|zu|zur|zum|mit|und|sowie|auch|ebenfalls|gleichfalls|genauso|person\w*|patient\w*|klient\w*|pat\.?|nr\.?|nummer|id|dame\w*|herr\w*|frau\w*|mann|maenner|jugendliche\w*|versichert\w*|privat\w*|gesetzlich\w*|#?\d+\.?|\d+-?jaehrig\w*|j\.?|jahre|jung\w*|juenger\w*|aelter\w*|alt\w*|beide\w*|zwei|drei|anderen|uebrigen|restlichen|depressiv\w*|erwachsen\w*|minderjaehrig\w*)$`)

// onlyNames reports whether text is no more than a list of names or
// descriptions (symptom words allowed), with at most extra other words.
// A word the list does not know makes it a statement of its own: splitting
// there is the safe side, as a clause without statement decides nothing.
// "den Herrn mit der Trauer (Person 5)" and "die Dame ebenfalls" are;
// "Person 2 schon" and "für Person 2 einen ab Juni" are not.
func onlyNames(text string, extra int) bool {
	for _, w := range strings.Fields(strings.NewReplacer("(", " ", ")", " ", ",", " ", ".", " ").Replace(text)) {
		if nameWord.MatchString(w) || len(symptomConcepts(w, false)) > 0 {
			continue
		}
		if extra--; extra < 0 {
			return false
		}
	}
	return true
}
