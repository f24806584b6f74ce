package replies

import (
	"regexp"
	"strings"
)

// signals is what one clause says, before it is known whom it is about.
type signals struct {
	accept          bool   // a firm offer
	tentative       bool   // an offer under a hedge or condition
	reject          bool   // a rejection
	cats            catSet // categories the rejections name
	reasons         catSet // reasons given, which decide nothing alone
	undecided       string // why it leaves people undecided; "" if it does not
	unsuitableTopic bool   // "X behandle ich nicht": about those who have X
	weakens         bool   // only a hedge or condition: "…, aber erst im März", "…, wenn sie kann"
}

func (s signals) any() bool { return s.accept || s.tentative || s.reject || s.undecided != "" }

// catSet is a set of categories.
type catSet uint8

func (c catSet) has(cat category) bool { return c&(1<<cat) != 0 }
func (c *catSet) add(cat category)     { *c |= 1 << cat }

// hit is a lexicon phrase found in a clause.
type hit struct {
	phrase
	start, end int
}

// refStart is text that begins by naming someone: a comma before it may
// start a new clause ("Person 1 nehme ich, Person 2 leider nicht").
var refStart = regexp.MustCompile(`^(?:(?:aber|doch|auch|und|bzw\.?) )?(?:(?:fuer|bei|zu|zur|zum|mit|an) )?(?:(?:die|den|der|dem|das) (?:\w+ ){0,2}(?:person|patient|klient|dame|herr|frau|mann|versichert|jugendlich|\d+-?jaehrig)|(?:die|den|der|dem|das)? ?(?:person(?:en)?\b|nr\b|nummer\b|#|id\b|patient|pat\.|klient|p\d\b|\d{3,}|erste|zweite|dritte|vierte|fuenfte|sechste|letzte|dame|herr|frau|mann|junge|aeltere|juengere|beiden|anderen|uebrigen|restlichen|\d{1,2}-?jaehrig))`)

// freePlace makes a negated place plain no capacity: "einen freien Platz
// habe ich nicht", "keinen Platz mehr".
var freePlace = regexp.MustCompile(`\bfrei\w*|\bmehr\b|\bkapazitaet`)

// shortYes ends a short clause that names someone: "die Dame gerne".
var shortYes = regexp.MustCompile(`\b(?:gerne|gern|ja)[.!]?$`)

// dassClause starts a clause governed by the one before it.
var dassClause = regexp.MustCompile(`^ ?(?:dass|das|ob) `)

// restriction words turn "behandle" from an offer into a limit.
var restriction = regexp.MustCompile(`\b(?:nur|ausschliesslich|lediglich|allein)\b`)

// subclause splits a clause into the parts a negation or an offer stays in.
// Not at "und": in "Ich nehme Person 1 und Person 2 nicht" the negation
// reaches back over it.
var subclause = regexp.MustCompile(`, | sondern |; `)

// namesSomeone is a cheap check for a reference in a clause part.
var namesSomeone = regexp.MustCompile(`\b(?:person(?:en)?|nr|nummer|id|patient\w*|klient\w*|p\d|dame|herr\w*|frau|mann|jaehrig\w*|anderen|uebrigen|alle\w*|beide\w*)\b|#\d|\b\d{3,}\b`).MatchString

// sig reads the signals of a folded clause; see read.
func sig(f string) signals { s, _ := read(f); return s }

// read finds the lexicon phrases of a folded clause and derives its
// signals. It returns the clause with every phrase it used blanked out, so
// that references are looked for in what remains.
func read(f string) (signals, string) {
	var s signals
	// work loses every phrase found, so that no later phrase reads it again;
	// negatable loses only the phrases whose "nicht" or "kein" negates
	// nothing ("kein Problem", "noch nicht sicher", "nicht vor Juli"), so
	// that "leider nicht" still negates the offer beside it.
	work, negatable := []byte(f), []byte(f)
	var hits []hit
	for _, table := range lexicon {
		for _, ph := range table {
			if !ph.re.mayMatch(f) {
				continue
			}
			for _, m := range ph.re.FindAllIndex(work, -1) {
				hits = append(hits, hit{phrase: ph, start: m[0], end: m[1]})
				for i := m[0]; i < m[1]; i++ {
					work[i] = '~'
					if ph.kind == kNeutral || ph.kind == kUndecided || ph.kind == kHedge {
						negatable[i] = '~'
					}
				}
			}
		}
	}
	rest := string(work)

	// Parts of the clause: a negation or an offer belongs to its part.
	type part struct {
		start, end             int
		neg, offer, place, rej bool
	}
	var parts []part
	last := 0
	for _, m := range append(subclause.FindAllStringIndex(rest, -1), []int{len(rest), len(rest)}) {
		parts = append(parts, part{start: last, end: m[0]})
		last = m[1]
	}
	partOf := func(pos int) int {
		for i, p := range parts {
			if pos < p.end || i == len(parts)-1 {
				return i
			}
		}
		return 0
	}
	hedgeAt, condition := -1, false
	for _, h := range hits {
		switch h.kind {
		case kUndecided:
			if s.undecided == "" {
				s.undecided = h.why
			}
		case kReject:
			s.reject = true
			s.cats.add(h.cat)
			parts[partOf(h.start)].rej = true
		case kReason:
			s.reasons.add(h.cat)
		case kHedge:
			if hedgeAt < 0 || h.start < hedgeAt {
				hedgeAt = h.start
			}
		case kCondition:
			condition = true
		case kAccept:
			p := &parts[partOf(h.start)]
			p.offer = true
			p.place = p.place || h.offer == offerPlace
		}
	}
	firstPersonClause := firstPerson.MatchString(f)
	for i := range parts {
		p := &parts[i]
		text := rest[p.start:p.end]
		p.neg = negation.Match(negatable[p.start:p.end])
		// "Ich glaube nicht, dass ich sie nehmen kann": the negation
		// reaches into the dass-clause it governs.
		if i > 0 && parts[i-1].neg && !parts[i-1].offer && dassClause.MatchString(text) {
			p.neg = true
		}
		// "behandle ich nicht", "biete ich nicht an": not suitable when it
		// names what is not treated, else a rejection without reason.
		if p.neg && treatVerb.MatchString(text) && (topics.MatchString(text) || len(symptomConcepts(text, false)) > 0) {
			s.reject, p.rej = true, true
			s.cats.add(catUnsuitable)
			s.unsuitableTopic = true
			continue
		}
		// "Ich behandle ausschließlich Kinder", "da ich nur Menschen bis 60
		// behandle": a restriction, not an offer, unless it names someone
		// ("nur Person 2 kann ich nehmen").
		restricted := restriction.MatchString(f[p.start:p.end]) && !namesSomeone(f[p.start:p.end])
		if !restricted && (takeFirstPerson.MatchString(text) || firstPersonClause && takeInfinitive.MatchString(text)) {
			p.offer = true
		}
		// The negation of a place is no capacity; of anything else, a
		// rejection whose reason must come from elsewhere.
		if p.offer && p.neg {
			if condition {
				s.undecided = reasonConditional
			} else {
				s.reject = true
				switch {
				case p.place && freePlace.MatchString(text):
					s.cats.add(catCapacity) // "einen freien Platz habe ich nicht"
				case p.place:
					s.cats.add(catPlace)
				}
			}
			p.offer, p.rej = false, true
		}
		// A rejection in the same part outweighs the offer words it contains
		// ("einen Platz könnte ich frühestens in einem Jahr anbieten").
		if p.offer && p.rej {
			p.offer = false
		}
		if p.offer {
			if condition || hedgeAt >= 0 && hedgeAt < p.end {
				s.tentative = true
			} else {
				s.accept = true
			}
		}
	}
	if m := yes.FindStringIndex(rest); m != nil && !parts[partOf(m[0])].neg {
		if condition || hedgeAt >= 0 && hedgeAt < m[0] {
			s.tentative = true
		} else {
			s.accept = true
		}
	}
	// "Person 2 nicht", "die Dame leider nicht": a named person and a bare
	// negation say no without saying why; "die Dame gerne", "Person 3 ja":
	// yes.
	if !s.any() && refStart.MatchString(f) && len(strings.Fields(f)) <= 6 {
		switch {
		case negation.Match(negatable):
			s.reject = true
		case shortYes.MatchString(f):
			s.accept = !condition && hedgeAt < 0
			s.tentative = !s.accept
		}
	}
	if s.cats == 0 && s.reject {
		s.cats.add(catNone)
	}
	s.weakens = (hedgeAt >= 0 || condition) && !s.any()
	return s, rest
}
