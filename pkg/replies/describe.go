package replies

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// description is a noun phrase that describes people: "den 21-jährigen
// jungen Mann mit Depression", "die beiden Herren", "die privat versicherte
// Patientin (Person 3)".
type description struct {
	gender    byte // 'f', 'm' or 0
	plural    bool
	count     int
	age       int
	young     bool // "jung": 30 or younger
	old       bool // "alt": 55 or older
	minor     bool // "jugendlich", "minderjährig": younger than 21
	youngest  bool // "jüngere"
	oldest    bool // "ältere"
	concepts  []string
	insurance byte
	rest, all bool
	features  bool // says more than the noun and its gender
}

// personNoun are the words for a person. A symptom or insurance word in
// front of "Patient" is part of the description ("Angstpatientin",
// "Privatpatient").
var personNoun = regexp.MustCompile(`\b([\w-]*?)(patient(?:_innen|_in|innen|in|en)?|klient(?:_innen|_in|innen|in|en)?)\b|\b(frau|frauen|dame|damen|herr|herrn|herren|mann|maenner|person|personen|jugendliche[nr]?|maedchen|mensch|menschen|versicherte[nr]?|erwachsene[nr]?|betroffene[nr]?)\b|\b(\d{1,2})-?jaehrige[nrms]?\b`)

var (
	nounGenders = map[string]byte{
		"patientin": 'f', "patientinnen": 'f', "klientin": 'f', "klientinnen": 'f', "frau": 'f', "frauen": 'f',
		"dame": 'f', "damen": 'f', "maedchen": 'f',
		"patient": 'm', "klient": 'm', "herr": 'm', "herrn": 'm', "herren": 'm', "mann": 'm', "maenner": 'm',
	}
	pluralNouns = map[string]bool{
		"patientinnen": true, "patient_innen": true, "klientinnen": true, "klient_innen": true, "frauen": true,
		"damen": true, "herren": true, "maenner": true, "personen": true, "menschen": true, "versicherten": true,
		"versicherte": true, "erwachsene": true, "erwachsenen": true, "betroffenen": true, "betroffene": true,
	}
	countBefore     = regexp.MustCompile(`\b(beiden|beide|zwei|drei|vier|fuenf|sechs|[2-9])\b`)
	allBefore       = regexp.MustCompile(`\b(?:alle|allen|saemtliche\w*|keine\w* der|keine\w* von|genannten|angefragten|vorgeschlagenen|ihre\w*)\b`)
	restBefore      = regexp.MustCompile(`\b(?:anderen|andere|uebrigen|uebrige|restlichen|restliche|weiteren|sonstigen)\b`)
	ageBefore       = regexp.MustCompile(`\b(\d{1,2})-?jaehrig`)
	ageAfter        = regexp.MustCompile(`^[ (]*(\d{1,2}) ?(?:j\b\.?|jahre\b|jahren\b|jaehrig)`)
	ageWords        = regexp.MustCompile(`\b(?:(juenger\w*|juengst\w*)|(jung\w*)|(aelter\w*|aeltest\w*)|(alt(?:e|en|er|es)?)|(jugendlich\w*|minderjaehrig\w*))\b`)
	privateWords    = regexp.MustCompile(`\bprivat\w*|\bbeihilfe\w*|\bselbstzahl\w*`)
	publicWords     = regexp.MustCompile(`\bgesetzlich\w*|\bkassen\w*|\bgkv\b`)
	conjunction     = regexp.MustCompile(`\b(?:und|sowie|oder|bzw\.?)\b`)
	nextPerson      = regexp.MustCompile(` (?:und|sowie|oder) (?:der|den|dem|die|das|eine\w*|ein)\b`)
	numberAfterNoun = regexp.MustCompile(`^ ?(?:\d|nr\b|nummer\b|#|id\b)`)
	articleLike     = regexp.MustCompile(`(?:e|en|er|em|es)$|^(?:beiden|zwei|drei|vier|\d+|beim|vom|zum|im|am)$`)
	singularArticle = regexp.MustCompile(`\b(?:den|dem|des|einen|einem|eines)\b`)
	superlativeOf   = regexp.MustCompile(`\b(?:juengste\w*|aelteste\w*|erste\w*|letzte\w*|eine\w*) (?:der|von den)\b`)
)

// nounGender is the gender a person word implies, 0 for neutral words.
func nounGender(noun string) byte { return nounGenders[noun] }

// describe finds the descriptions in a folded clause.
func describe(f string, people []person) []description {
	ms := personNoun.FindAllStringSubmatchIndex(f, -1)
	var out []description
	prevEnd := 0
	for k, m := range ms {
		start, end := m[0], m[1]
		next := len(f)
		if k+1 < len(ms) {
			next = ms[k+1][0]
		}
		// An adjective in front of the noun ("die privat versicherte
		// Patientin"): the next match describes the same person.
		if k+1 < len(ms) && next <= end+1 {
			continue
		}
		after := f[end:]
		// "Person 2", "Patient 5205", "Patienten-ID": references, not descriptions.
		if strings.HasPrefix(after, "-") || numberAfterNoun.MatchString(after) {
			prevEnd = end
			continue
		}
		var prefix, noun string
		if m[4] >= 0 {
			prefix, noun = f[m[2]:m[3]], f[m[4]:m[5]]
		} else if m[6] >= 0 {
			noun = f[m[6]:m[7]]
		} else {
			noun = "jaehrige"
		}
		left := window(f[max(prevEnd, start-50):start], true)
		right := window(f[end:min(next, end+70)], false)
		prevEnd = end

		words := strings.Fields(left)
		if (noun == "frau" || noun == "herr" || noun == "herrn") && (len(words) == 0 || !articleLike.MatchString(words[len(words)-1])) {
			continue // "Frau Dr. Sommer", "an Herrn Müller": a name, not a patient
		}
		d := description{gender: nounGenders[noun], plural: pluralNouns[noun]}
		// "den Patienten" is one man, "Patienten" and "die Patienten" many.
		if noun == "patienten" || noun == "klienten" {
			d.plural = countBefore.MatchString(left) || allBefore.MatchString(left) || !singularArticle.MatchString(left)
			if !d.plural {
				d.gender = 'm'
			}
		}
		// "die jüngste der drei Damen" is one of them.
		partitive := superlativeOf.MatchString(left)
		if c := countBefore.FindString(left); c != "" && !partitive {
			if c == "beide" {
				c = "beiden"
			}
			d.count, d.plural = countWord(c), true
		}
		if partitive {
			d.plural = false
		}
		d.all = d.plural && allBefore.MatchString(left)
		d.rest = restBefore.MatchString(left)
		if m[8] >= 0 {
			d.age, _ = strconv.Atoi(f[m[8]:m[9]])
		} else if a := ageBefore.FindStringSubmatch(left); a != nil {
			d.age, _ = strconv.Atoi(a[1])
		} else if a := ageAfter.FindStringSubmatch(right); a != nil {
			d.age, _ = strconv.Atoi(a[1])
		}
		for _, a := range ageWords.FindAllStringSubmatch(left+" "+noun, -1) {
			d.youngest = d.youngest || a[1] != ""
			d.young = d.young || a[2] != ""
			d.oldest = d.oldest || a[3] != ""
			d.old = d.old || a[4] != ""
			d.minor = d.minor || a[5] != ""
		}
		desc := left + " " + prefix + " " + right
		d.concepts = mentions(desc, people)
		switch {
		case privateWords.MatchString(desc):
			d.insurance = 'p'
		case publicWords.MatchString(desc):
			d.insurance = 's'
		}
		d.features = d.age > 0 || d.young || d.old || d.minor || d.youngest || d.oldest || len(d.concepts) > 0 || d.insurance != 0
		out = append(out, d)
	}
	return out
}

// window cuts a left or right context at the nearest clause mark, keeping a
// parenthesis that directly follows the noun ("Jugendliche (17 Jahre)").
func window(s string, left bool) string {
	if left {
		if i := strings.LastIndexAny(s, ",;:!?()"); i >= 0 {
			s = s[i+1:]
		}
		// "die Patientin mit X und den jungen Mann": the left of "Mann"
		// starts after "und".
		if loc := conjunction.FindAllStringIndex(s, -1); loc != nil {
			s = s[loc[len(loc)-1][1]:]
		}
		return strings.TrimLeft(s, " ")
	}
	if t := strings.TrimLeft(s, " "); strings.HasPrefix(t, "(") {
		if j := strings.Index(t, ")"); j >= 0 {
			return t[:j+1]
		}
	}
	// On the right only "mit …" describes: "die Patientin mit der
	// Essstörung", not "die Person gerne einen Termin … anbieten".
	t := strings.TrimLeft(s, " ")
	if !strings.HasPrefix(t, "mit ") {
		return ""
	}
	if i := strings.IndexAny(t, ",;:!?()"); i >= 0 {
		t = t[:i]
	}
	if i := strings.Index(t, ". "); i >= 0 {
		t = t[:i]
	}
	if loc := nextPerson.FindStringIndex(t); loc != nil {
		t = t[:loc[0]] // "mit X und den jungen Mann …": X only
	}
	if w := strings.Fields(t); len(w) > 7 {
		t = strings.Join(w[:7], " ")
	}
	return t
}

// candidates are the people d fits.
func (d description) candidates(people []person) []int {
	var out []int
	for i, p := range people {
		switch {
		case d.gender != 0 && p.gender != 0 && d.gender != p.gender,
			d.age > 0 && p.age != d.age,
			d.young && (p.age == 0 || p.age > 30),
			d.old && p.age < 55,
			d.minor && (p.age == 0 || p.age >= 21),
			d.insurance != 0 && p.insurance != d.insurance:
			continue
		}
		if !slices.ContainsFunc(d.concepts, func(c string) bool { return !p.has(c) }) {
			out = append(out, i)
		}
	}
	// "die beiden älteren Damen": the two oldest, when the ages tell.
	if (d.youngest || d.oldest) && d.plural && d.count > 0 && len(out) > d.count {
		slices.SortStableFunc(out, func(a, b int) int {
			if d.oldest {
				return people[b].age - people[a].age
			}
			return people[a].age - people[b].age
		})
		if people[out[d.count-1]].age == people[out[d.count]].age {
			return out // a tie: ambiguous
		}
		out = out[:d.count]
		slices.Sort(out)
		return out
	}
	if (d.youngest || d.oldest) && !d.plural && len(out) > 1 {
		best := out[0]
		unique := true
		for _, i := range out[1:] {
			a, b := people[i].age, people[best].age
			switch {
			case a == b:
				unique = false
			case d.youngest && a < b, d.oldest && a > b:
				best, unique = i, true
			}
		}
		if unique {
			out = []int{best}
		}
	}
	return out
}
