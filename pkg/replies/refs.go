package replies

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// level is how specifically a clause names the people it is about. For each
// person the most specific statement wins: what the reply says about
// "Person 3" beats what it says about "die anderen", which beats "alle",
// which beats a sentence that names nobody.
type level uint8

const (
	levelNone       level = iota // names nobody ("Leider habe ich keinen Platz.")
	levelAll                     // everyone ("alle", "keine der Personen", "beide" of two)
	levelGroup                   // some together ("die beiden Herren", "die anderen", "Essstörungen …")
	levelIndividual              // one by one (number, ID, ordinal, a unique description)
)

// refs are the people a clause is about.
type refs struct {
	who       []int // indexes into the people
	level     level
	rest      bool // "die anderen": who is everyone not named elsewhere, filled in later
	count     int  // how many the reply says it means ("die anderen beiden"); 0 if it does not say
	unknown   bool // names a person the anfrage does not have ("Person 7", an unknown ID)
	ambiguous bool // a description that fits several or no people, or contradicts the number named
	anaphor   bool // only "die Patientin" or "beide": the people just spoken of
	gender    byte // the gender of an anaphor's word
}

func (r refs) empty() bool {
	return len(r.who) == 0 && !r.rest && !r.unknown && !r.ambiguous && !r.anaphor && r.level == levelNone
}

// Explicit references, with the list that may follow ("Person 1 und 2",
// "Nr. 1 und Nr. 4", "Personen 2–4", "ID 5211 und 5226").
var (
	listTail      = `((?:(?:,| und| and| sowie| &| bzw\.?| oder|/| bis| -) ?(?:(?:person|nr\.?|nummer|#|id) ?)?\d+\b)*)`
	numberRef     = regexp.MustCompile(`\b(?:person(?:en)?|nr\.?|nummer|no\.) ?(?:nr\.? ?|nummer )?(\d{1,2})\b` + listTail)
	shortRef      = regexp.MustCompile(`\bp(\d)\b`)
	idRef         = regexp.MustCompile(`(?:#|\b(?:patienten-?id|pat\.?-?id|id|kennung|chiffre)\.?:? ?)(\d+)\b` + listTail)
	patientRef    = regexp.MustCompile(`\b(?:pat(?:ient\w*)?|klient\w*)\.? (\d+)\b` + listTail)
	bareList      = regexp.MustCompile(`^(\d{3,})((?: ?(?:,|und|&|/|sowie) ?\d{3,})*) ?(?:[-:(]|$)`)
	bareParens    = regexp.MustCompile(`\((?:id |nr\.? |#)?(\d{3,})((?:(?:,| und| sowie| &|/) ?\d{3,})*)\)`)
	listNumbers   = regexp.MustCompile(`\d+`)
	listRange     = regexp.MustCompile(`^(\d+) ?(?:bis|-) ?(?:(?:person|nr\.?|nummer) ?)?(\d+)$`)
	ordinalRef    = regexp.MustCompile(`\b(erste|zweite|dritte|vierte|fuenfte|sechste|siebte|achte|letzte)(?:n|r|s|m)? (person|patient\w*|anfrage|stelle|position|dame|herr\w*|frau|mann|klient\w*)\b`)
	ordinalDigit  = regexp.MustCompile(`\b(\d{1,2})\. (?:person|patient\w*|stelle|position)\b`)
	numberWordRef = regexp.MustCompile(`\bperson (?:nummer |nr\.? )?(eins|zwei|drei|vier|fuenf|sechs)\b`)
	firstFewRef   = regexp.MustCompile(`\b(ersten|letzten) (beiden|zwei|drei|vier) (?:personen|patient\w*)?`)
)

var ordinals = map[string]int{"erste": 1, "zweite": 2, "dritte": 3, "vierte": 4, "fuenfte": 5, "sechste": 6, "siebte": 7, "achte": 8,
	"eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fuenf": 5, "sechs": 6, "beiden": 2}

// explicitRefs finds people named by number, ID or ordinal. unknown reports
// a name that fits nobody of the anfrage.
func explicitRefs(f string, unitStart bool, people []person) (who []int, unknown bool) {
	add := func(idx []int) {
		if len(idx) == 0 {
			unknown = true
		}
		who = append(who, idx...)
	}
	// eachNumber walks a matched list, expanding ranges ("2 bis 4").
	eachNumber := func(first, tail string, fn func(int)) {
		prev, _ := strconv.Atoi(first)
		fn(prev)
		for _, part := range splitList(tail) {
			if m := listRange.FindStringSubmatch(strconv.Itoa(prev) + " " + part); m != nil && strings.ContainsAny(part, "b-") {
				to, _ := strconv.Atoi(m[2])
				for n := prev + 1; n <= to && n-prev <= 10; n++ {
					fn(n)
				}
				prev = to
				continue
			}
			if n, err := strconv.Atoi(listNumbers.FindString(part)); err == nil {
				fn(n)
				prev = n
			}
		}
	}
	// A number after "Patient" is an ID when one fits, else a Person number.
	idOrNumber := func(n int) {
		if idx := byID(people, int64(n)); len(idx) > 0 {
			add(idx)
			return
		}
		add(byNumber(people, n))
	}
	for _, m := range numberRef.FindAllStringSubmatch(f, -1) {
		eachNumber(m[1], m[2], func(n int) { add(byNumber(people, n)) })
	}
	for _, m := range shortRef.FindAllStringSubmatch(f, -1) {
		n, _ := strconv.Atoi(m[1])
		add(byNumber(people, n))
	}
	for _, m := range idRef.FindAllStringSubmatch(f, -1) {
		eachNumber(m[1], m[2], idOrNumber)
	}
	for _, m := range patientRef.FindAllStringSubmatch(f, -1) {
		eachNumber(m[1], m[2], idOrNumber)
	}
	bare := bareParens.FindAllStringSubmatch(f, -1)
	if unitStart {
		bare = append(bare, bareList.FindAllStringSubmatch(f, -1)...)
	}
	for _, m := range bare {
		eachNumber(m[1], m[2], func(n int) { add(byID(people, int64(n))) })
	}
	for _, m := range ordinalRef.FindAllStringSubmatch(f, -1) {
		n := ordinals[m[1]]
		if m[1] == "letzte" {
			for _, p := range people {
				n = max(n, p.number)
			}
		}
		idx := byNumber(people, n)
		// "die zweite Patientin" must be Person 2 and fit the word.
		if g := nounGender(m[2]); g != 0 {
			idx = slices.DeleteFunc(idx, func(i int) bool { return people[i].gender != 0 && people[i].gender != g })
		}
		add(idx)
	}
	for _, m := range ordinalDigit.FindAllStringSubmatch(f, -1) {
		n, _ := strconv.Atoi(m[1])
		add(byNumber(people, n))
	}
	for _, m := range numberWordRef.FindAllStringSubmatch(f, -1) {
		add(byNumber(people, ordinals[m[1]]))
	}
	for _, m := range firstFewRef.FindAllStringSubmatch(f, -1) {
		k := ordinals[m[2]]
		if k == 0 {
			k, _ = strconv.Atoi(m[2])
		}
		last := 0
		for _, p := range people {
			last = max(last, p.number)
		}
		from := 1
		if m[1] == "letzten" {
			from = last - k + 1
		}
		for n := from; n < from+k; n++ {
			add(byNumber(people, n))
		}
	}
	slices.Sort(who)
	return slices.Compact(who), unknown
}

func byID(people []person, id int64) []int {
	var out []int
	for i, p := range people {
		if p.id == id {
			out = append(out, i)
		}
	}
	return out
}

func splitList(tail string) []string {
	var parts []string
	for _, sep := range []string{",", " und ", " and ", " sowie ", " & ", " bzw. ", " bzw ", " oder ", "/"} {
		tail = strings.ReplaceAll(tail, sep, "|")
	}
	tail = strings.NewReplacer(" bis ", "|bis ", " - ", "|- ").Replace(tail)
	for _, p := range strings.Split(tail, "|") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return parts
}

// Collective words without a noun.
var (
	restWords = regexp.MustCompile(`\b(?:die|den|der|alle|allen|an)\b ?(?:(beiden|zwei|drei|vier|fuenf|\d) )?(?:anderen|andere|uebrigen|uebrige|restlichen|restliche|weiteren)\b(?: (beiden|zwei|drei|vier|fuenf|\d)\b)?|\b(?:den|der|dem) rest\b|\bansonsten\b|\bsonst\b|\bthe (?:others|rest)\b`)
	allWords  = regexp.MustCompile(`\balle(?:n)?\b(?: (beiden|zwei|drei|vier|fuenf|sechs|\d)\b)?|\bkeine(?:r|n|m)? (?:der|von)\b(?: (beiden|zwei|drei|vier|fuenf|sechs|\d)\b)?|\bniemand\w*|\bsaemtliche\w*|\bjede(?:n|r|m)? (?:der|einzelne\w*)\b|\bfuer keine(?:n|r)?\b|\bvon ihnen\b|\b(?:die|den|der|ihre\w*) (?:von ihnen |uns )?(?:genannten|angefragten|vorgeschlagenen|angegebenen|aufgefuehrten)\b|\beveryone\b|\b(?:all|none|either|any) of them\b`)
	bothWords = regexp.MustCompile(`\bbeide(?:n|r|s)?\b|\bboth\b`)
)

// collective finds noun-less collectives: "alle anderen", "die übrigen
// zwei", "keine der Personen", "beide".
func collective(f string, people []person) (refs, bool) {
	if m := restWords.FindStringSubmatch(f); m != nil {
		r := refs{level: levelGroup, rest: true}
		for _, c := range m[1:] {
			if c != "" {
				r.count = countWord(c)
			}
		}
		return r, true
	}
	if m := allWords.FindStringSubmatch(f); m != nil {
		r := refs{level: levelAll, who: allOf(people)}
		for _, c := range m[1:] {
			if c != "" && countWord(c) != len(people) {
				r.ambiguous = true // "alle drei" of four
			}
		}
		return r, true
	}
	if bothWords.MatchString(f) {
		if len(people) == 2 {
			return refs{level: levelAll, who: allOf(people)}, true
		}
		return refs{anaphor: true, count: 2}, true
	}
	return refs{}, false
}

func allOf(people []person) []int {
	out := make([]int, len(people))
	for i := range people {
		out[i] = i
	}
	return out
}

func countWord(w string) int {
	if n, ok := ordinals[w]; ok {
		return n
	}
	n, _ := strconv.Atoi(w)
	return n
}
