package replies

import (
	"regexp"
	"strings"
)

// The clerk's third step: who is meant. A reply names people by Person
// number, Patienten-ID or ordinal, describes them by gender, age, symptom
// or insurance ("die 34-jährige Patientin mit Angststörung", "den jungen
// Mann", "die privat versicherte Patientin"), or speaks of them together
// ("alle", "keine der Personen", "die anderen beiden", "beide").

// person is a Person as the rules compare it.
type person struct {
	number    int
	id        int64
	gender    byte // 'f', 'm' or 0 (divers, keine Angabe, unknown: fits any word)
	age       int  // 0 unknown
	concepts  []string
	insurance byte // 'p' private, 's' statutory, 0 unknown
}

func newPeople(in []Person) []person {
	out := make([]person, len(in))
	for i, p := range in {
		n := p.Number
		if n == 0 {
			n = i + 1
		}
		out[i] = person{number: n, id: p.PatientID, age: p.Alter, insurance: insuranceClass(p.Krankenkasse)}
		switch g := fold(p.Geschlecht); {
		case strings.HasPrefix(g, "weib") || g == "w" || g == "f" || g == "female":
			out[i].gender = 'f'
		case strings.HasPrefix(g, "maenn") || g == "m" || g == "male":
			out[i].gender = 'm'
		}
		for _, s := range p.Symptome {
			out[i].concepts = append(out[i].concepts, symptomConcepts(fold(s), true)...)
		}
	}
	return out
}

func (p person) has(concept string) bool {
	for _, c := range p.concepts {
		if c == concept {
			return true
		}
	}
	return false
}

// concepts names symptoms the way a therapist writes about them: the
// letter's "Zwangsgedanken" is meant by "Zwänge", "PTBS" by "Trauma".
var concepts = []struct {
	name string
	re   *regexp.Regexp
}{
	{"angst", regexp.MustCompile(`\b(?:angst\w*|\w*phobi\w*|\w*aengst\w*)`)},
	{"panik", regexp.MustCompile(`\bpanik\w*`)},
	{"depression", regexp.MustCompile(`\b(?:depres\w*|schwermut\w*|niedergeschlagen\w*)`)},
	{"zwang", regexp.MustCompile(`\b(?:zwang\w*|zwaeng\w*|ocd)\b`)},
	{"essen", regexp.MustCompile(`\b(?:ess-?stoer\w*|esstoer\w*|anorex\w*|bulimi\w*|magersucht\w*|binge\w*|essverhalten\w*|essproblem\w*)`)},
	{"trauma", regexp.MustCompile(`\b(?:ptbs|ptsd|trauma\w*|posttraumat\w*|traumat\w*)`)},
	{"burnout", regexp.MustCompile(`\b(?:burn-?out\w*|erschoepfung\w*)`)},
	{"schlaf", regexp.MustCompile(`\b(?:schlaf\w*|insomni\w*|ein- und durchschlaf\w*)`)},
	{"trauer", regexp.MustCompile(`\btrauer\w*`)},
	{"sucht", regexp.MustCompile(`\b(?:sucht\w*|spielsucht|kaufsucht|onlinesucht|mediensucht|\w*abhaengigkeit\w*|alkohol\w*|drogen\w*|cannabis\w*)`)},
	{"adhs", regexp.MustCompile(`\b(?:adhs|ads|aufmerksamkeitsdefizit\w*)\b`)},
	{"borderline", regexp.MustCompile(`\b(?:borderline\w*|persoenlichkeitsstoer\w*)`)},
	{"psychose", regexp.MustCompile(`\b(?:psychose\w*|psychotisch\w*|schizo\w*)`)},
	{"bipolar", regexp.MustCompile(`\b(?:bipolar\w*|manisch\w*)`)},
	{"somatoform", regexp.MustCompile(`\b(?:somatoform\w*|psychosomat\w*|schmerzstoer\w*)`)},
}

// symptomStem strips what symptom names end with, to recognise a symptom
// the concepts do not know ("Prüfungsangst" aside, "Einsamkeit" → "einsam").
var symptomStem = regexp.MustCompile(`(?:stoerung(?:en)?|erkrankung(?:en)?|attacke(?:n)?|gedanken|handlung(?:en)?|syndrom|problem(?:e)?|keit|heit|ung(?:en)?)$`)

// symptomConcepts returns the concepts text mentions. For a person's own
// symptom (own) that no concept knows, it returns "stem:" + its stem.
func symptomConcepts(text string, own bool) []string {
	var out []string
	for _, c := range concepts {
		if c.re.MatchString(text) {
			out = append(out, c.name)
		}
	}
	if len(out) == 0 && own {
		for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
			if stem := symptomStem.ReplaceAllString(w, ""); len(stem) >= 4 {
				out = append(out, "stem:"+stem)
			}
		}
	}
	return out
}

// mentions returns the concepts of people that text mentions, own stems
// included.
func mentions(text string, people []person) []string {
	out := symptomConcepts(text, false)
	seen := map[string]bool{}
	for _, p := range people {
		for _, c := range p.concepts {
			if stem, ok := strings.CutPrefix(c, "stem:"); ok && !seen[c] && hasWordPrefix(text, stem) {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func hasWordPrefix(text, stem string) bool {
	for i := strings.Index(text, stem); i >= 0; {
		if i == 0 || !isWordByte(text[i-1]) {
			return true
		}
		j := strings.Index(text[i+1:], stem)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_'
}

var (
	privateKasse   = regexp.MustCompile(`privat|pkv|beihilfe|selbstzahl|debeka|allianz|axa|\bdkv\b|signal|huk|hallesche|barmenia|gothaer|continentale|central|\binter\b|lkh|muenchener verein|nuernberger|universa|arag|ergo|provinzial|wuerttembergische`)
	statutoryKasse = regexp.MustCompile(`\baok\b|\btk\b|techniker|barmer|\bdak\b|\bikk\b|\bbkk\b|\bkkh\b|\bhek\b|\bhkk\b|knappschaft|gesetzlich|\bgkv\b|ersatzkasse|svlfg|krankenkasse`)
)

// insuranceClass tells private from statutory insurance by the name.
func insuranceClass(kasse string) byte {
	k := fold(kasse)
	switch {
	case k == "":
		return 0
	case privateKasse.MatchString(k):
		return 'p'
	case statutoryKasse.MatchString(k):
		return 's'
	}
	return 0
}
