package replies

import (
	"regexp"
	"slices"
	"strings"
)

// clause is one clause of the answer with whom it is about.
type clause struct {
	sentence string // the sentence as the therapist wrote it: the evidence
	text     string // the clause, folded
	unit     int
	refs     refs
	sig      signals
}

// doc is the analysed answer.
type doc struct {
	people    []person
	clauses   []clause
	mentioned []bool // named one by one or as a group somewhere
	unknown   string // a sentence naming a person the anfrage lacks
}

// logistics are questions about an offered appointment, not about the case.
var logisticsQuestion = regexp.MustCompile(`\b(?:termin\w*|uhrzeit|passt|passen|recht|datum|bestaetig\w*)\b`)

// analyse reads the answer clause by clause and resolves whom each is about.
func analyse(ans answer, people []person) *doc {
	d := &doc{people: people, mentioned: make([]bool, len(people))}
	var header refs // refs of a unit ending with ":", for the list below it
	for ui, u := range units(ans.lines) {
		var ctx refs
		switch {
		case u.person != 0:
			ctx = refs{who: byNumber(people, u.person), level: levelIndividual}
		case !header.empty():
			ctx = header
		}
		var last refs
		for si, s := range u.sentences {
			f := fold(s)
			evidence := strings.Join(strings.Fields(s), " ")
			parts := clauses(f)
			for ci, cf := range parts {
				sg, rest := read(cf)
				if ci == len(parts)-1 && strings.Contains(cf, "?") && !sg.accept && sg.undecided == "" && !logisticsQuestion.MatchString(cf) {
					sg.undecided = reasonQuestion
				}
				// An afterthought with only a hedge or condition weakens the
				// offer before it: "…, aber erst in sechs Monaten".
				if ci > 0 && sg.weakens && len(d.clauses) > 0 {
					if prev := &d.clauses[len(d.clauses)-1]; prev.sig.accept {
						prev.sig.accept, prev.sig.tentative = false, true
					}
				}
				r := clauseRefs(cf, rest, si == 0 && ci == 0, people, sg)
				r = resolve(r, ctx, people, sg.any())
				if r.unknown && d.unknown == "" {
					d.unknown = evidence
				}
				d.clauses = append(d.clauses, clause{sentence: evidence, text: cf, unit: ui, refs: r, sig: sg})
				if r.level != levelNone || len(r.who) > 0 {
					ctx = r
				}
				last = r
			}
		}
		header = refs{}
		if u.colon && (last.level == levelIndividual || last.level == levelGroup) {
			header = last
		}
	}
	d.fillRest()
	return d
}

// clauseRefs finds whom a clause names: explicit names first, then
// descriptions, then collectives, then, for "X behandle ich nicht", the
// people who have X.
func clauseRefs(f, rest string, unitStart bool, people []person, sg signals) refs {
	// "alle außer Person 3": everyone but those named after "außer".
	if loc := except.FindStringIndex(f); loc != nil && allWords.MatchString(f[:loc[0]]) {
		if but, _ := explicitRefs(f[loc[1]:], false, people); len(but) > 0 {
			r := refs{level: levelGroup}
			for i := range people {
				if !slices.Contains(but, i) {
					r.who = append(r.who, i)
				}
			}
			return r
		}
	}
	who, unknown := explicitRefs(f, unitStart, people)
	descs := describe(rest, people)
	if len(who) > 0 || unknown {
		r := refs{who: who, level: levelIndividual, unknown: unknown}
		// A description beside a number must fit it: "Person 2 (die
		// Patientin mit Depression)" for a man is a slip a clerk would ask about.
		for _, d := range descs {
			if d.plural || d.rest || d.all || (!d.features && d.gender == 0) {
				continue
			}
			if !slices.ContainsFunc(d.candidates(people), func(i int) bool { return slices.Contains(who, i) }) {
				r.ambiguous = true
			}
		}
		return r
	}
	var r refs
	var bare []description // "die Dame": resolved once the others are known
	for _, d := range descs {
		cands := d.candidates(people)
		switch {
		case d.rest:
			r.rest, r.count, r.level = true, d.count, max(r.level, levelGroup)
		case d.all || d.plural && d.count == len(people) && !d.features && d.gender == 0:
			r.who, r.level = union(r.who, allOf(people)), max(r.level, levelAll)
		case d.plural && (d.features || d.gender != 0 || d.count > 0):
			r.who, r.level = union(r.who, cands), max(r.level, levelGroup)
			r.ambiguous = r.ambiguous || d.count > 0 && d.count != len(cands) || len(cands) == 0
		case d.plural:
			// "neue Patienten" in general: nobody in particular.
		case !d.features && len(people) > 1:
			bare = append(bare, d)
		default:
			r.who, r.level = union(r.who, cands), levelIndividual
			r.ambiguous = r.ambiguous || len(cands) != 1
		}
	}
	for _, d := range bare {
		if r.level == levelNone && len(bare) == 1 {
			// Alone in its clause: the people just spoken of (see resolve).
			r.anaphor, r.gender = true, d.gender
			break
		}
		// Beside others ("den Herrn nehme ich, die Dame ebenfalls"): the
		// one other person of that gender.
		var cands []int
		for _, i := range d.candidates(people) {
			if !slices.Contains(r.who, i) {
				cands = append(cands, i)
			}
		}
		r.who, r.level = union(r.who, cands), levelIndividual
		r.ambiguous = r.ambiguous || len(cands) != 1
	}
	if r.level != levelNone || r.anaphor {
		return r
	}
	if c, ok := collective(rest, people); ok {
		return c
	}
	if sg.unsuitableTopic || sg.cats.has(catUnsuitable) {
		if named := symptomConcepts(rest, false); len(named) > 0 {
			// "Zwangsstörungen behandle ich nicht": about those with it, and
			// about nobody when nobody has it.
			r = refs{level: levelGroup}
			for i, p := range people {
				if slices.ContainsFunc(named, p.has) {
					r.who = append(r.who, i)
				}
			}
		}
	}
	return r
}

var except = regexp.MustCompile(`\b(?:ausser|bis auf|ausgenommen|mit ausnahme (?:von )?|except)\b`)

// resolve fills in a clause that names nobody, or names only "die
// Patientin" or "beide", with the people just spoken of (ctx).
func resolve(r, ctx refs, people []person, signal bool) refs {
	if r.empty() {
		if ctx.level == levelNone && len(ctx.who) == 0 {
			return r
		}
		ctx.unknown = false
		return ctx
	}
	if !r.anaphor {
		return r
	}
	fits := func(i int) bool { return r.gender == 0 || people[i].gender == 0 || people[i].gender == r.gender }
	if len(ctx.who) > 0 && (r.count == 0 || r.count == len(ctx.who)) {
		if !slices.ContainsFunc(ctx.who, func(i int) bool { return !fits(i) }) {
			ctx.unknown = false
			return ctx
		}
	}
	if !signal {
		return refs{}
	}
	var cands []int
	for i := range people {
		if fits(i) {
			cands = append(cands, i)
		}
	}
	if r.count == 0 && len(cands) == 1 {
		return refs{who: cands, level: levelIndividual}
	}
	return refs{who: cands, level: levelIndividual, ambiguous: true}
}

// fillRest marks who is named anywhere and gives "die anderen" everyone
// else.
func (d *doc) fillRest() {
	for _, c := range d.clauses {
		if c.refs.rest || c.refs.level < levelGroup || c.refs.ambiguous && !c.sig.any() {
			continue
		}
		for _, i := range c.refs.who {
			d.mentioned[i] = true
		}
	}
	var others []int
	for i, m := range d.mentioned {
		if !m {
			others = append(others, i)
		}
	}
	for k := range d.clauses {
		r := &d.clauses[k].refs
		if r.rest {
			r.who = others
			r.ambiguous = r.ambiguous || r.count > 0 && r.count != len(others)
		}
	}
}

func byNumber(people []person, n int) []int {
	var out []int
	for i, p := range people {
		if p.number == n {
			out = append(out, i)
		}
	}
	return out
}

func union(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
