package replies

import (
	"regexp"
	"slices"
)

// The clerk's last step: per patient, take the most specific statements
// about them and decide only when they agree. Guessing is the one error
// that must not happen, so every doubt ends undecided.

type verdict struct{ outcome, evidence, reason string }

func undecidedBy(reason, evidence string) verdict { return verdict{reason: reason, evidence: evidence} }

// decide returns the verdict for person i.
func (d *doc) decide(i int) verdict {
	for lv := levelIndividual; ; lv-- {
		about := d.about(i, lv)
		if len(about) > 0 {
			if d.unknown != "" && lv < levelIndividual {
				// "Person 7 nehme ich, die anderen nicht" with six people: who
				// are "die anderen"?
				return undecidedBy(reasonUnknownRef, d.unknown)
			}
			return d.judge(about, lv, i)
		}
		if lv == levelNone {
			break
		}
	}
	if d.mentioned[i] {
		return undecidedBy(reasonMentionedNoDecision, "")
	}
	return undecidedBy(reasonNotMentioned, "")
}

// about are the clauses at level lv that say something about person i.
func (d *doc) about(i int, lv level) []clause {
	var out []clause
	for _, c := range d.clauses {
		if c.refs.level != lv || !c.sig.any() {
			continue
		}
		if lv == levelNone || slices.Contains(c.refs.who, i) {
			out = append(out, c)
		}
	}
	return out
}

// judge decides from the clauses about one person at one level.
func (d *doc) judge(about []clause, lv level, i int) verdict {
	var accept, tentative, reject *clause
	for k := range about {
		c := &about[k]
		if c.refs.ambiguous {
			return undecidedBy(reasonAmbiguous, c.sentence)
		}
		if c.sig.undecided != "" {
			return undecidedBy(c.sig.undecided, c.sentence)
		}
		if c.sig.accept && accept == nil {
			accept = c
		}
		if c.sig.tentative && tentative == nil {
			tentative = c
		}
		if c.sig.reject && reject == nil {
			reject = c
		}
	}
	offered := accept != nil || tentative != nil
	switch {
	case reject != nil && offered:
		return undecidedBy(reasonContradiction, reject.sentence)
	case offered && lv == levelNone && len(d.people) > 1:
		// "Ich habe einen Platz frei" to an anfrage of three: for whom?
		return undecidedBy(reasonNoTarget, firstOf(accept, tentative).sentence)
	case accept != nil:
		return verdict{outcome: Angenommen, evidence: accept.sentence}
	case tentative != nil:
		return undecidedBy(reasonConditional, tentative.sentence)
	}
	return d.category(about, reject, i)
}

func firstOf(cs ...*clause) *clause {
	for _, c := range cs {
		if c != nil {
			return c
		}
	}
	return nil
}

// category is the rejection's outcome for person i: the reason the
// rejecting clauses give; else a reason given around them (in their
// paragraphs, about i or about nobody in particular) or about nobody in
// particular anywhere in the answer. A plain "keinen Platz" is no capacity
// only when no other reason stands beside it, also not another reason given
// for somebody else in the same paragraph. A rejection without a reason the
// rules know is undecided: "keine neuen Patienten" alone may mean no
// capacity or retirement, and "…, daher …" names a reason they cannot read.
func (d *doc) category(about []clause, reject *clause, i int) verdict {
	var cats catSet
	units := map[int]bool{}
	for _, c := range about {
		cats |= c.sig.cats | c.sig.reasons
		units[c.unit] = true
	}
	if v, ok := fromCategories(cats, reject.sentence); ok {
		return v
	}
	var near, anywhere, others catSet
	for _, c := range d.clauses {
		none := c.refs.level == levelNone
		switch {
		case units[c.unit] && (none || slices.Contains(c.refs.who, i)):
			near |= c.sig.cats | c.sig.reasons
		case units[c.unit] && !c.refs.ambiguous:
			others |= c.sig.cats | c.sig.reasons
		}
		if none {
			anywhere |= c.sig.cats | c.sig.reasons
		}
	}
	for _, ctx := range []catSet{near, anywhere} {
		if v, ok := fromCategories(ctx, reject.sentence); ok {
			return v
		}
	}
	// "Da ich keine Kassenzulassung habe, nehme ich nur den Herrn. Der
	// Patientin kann ich keinen Platz anbieten": the reason stands in the
	// sentence about the other person. (A reason of unsuitability is about
	// the person it names, so it casts no doubt.)
	if others.has(catOther) {
		return undecidedBy(reasonReasonsClash, reject.sentence)
	}
	for _, c := range about {
		if c.sig.reject && causal.MatchString(c.text) {
			return undecidedBy(reasonUnknownCause, c.sentence)
		}
	}
	if cats.has(catPlace) || near.has(catPlace) {
		return verdict{outcome: AbgelehntKapazitaet, evidence: reject.sentence}
	}
	return undecidedBy(reasonNoReason, reject.sentence)
}

// causal words announce a reason.
var causal = regexp.MustCompile(`\b(?:da|weil|denn|daher|deshalb|deswegen|darum|aufgrund|wegen|infolge|gruenden|grund|because|due to)\b`)

// fromCategories picks the outcome a set of reasons supports: a reason that
// the person does not fit, or another reason, outweighs a lack of capacity
// ("ausgebucht, und Zwänge behandle ich ohnehin nicht"); both together
// contradict each other.
func fromCategories(cats catSet, evidence string) (verdict, bool) {
	switch {
	case cats.has(catUnsuitable) && cats.has(catOther):
		return undecidedBy(reasonReasonsClash, evidence), true
	case cats.has(catUnsuitable):
		return verdict{outcome: AbgelehntNichtGeeignet, evidence: evidence}, true
	case cats.has(catOther):
		return verdict{outcome: AbgelehntSonstiges, evidence: evidence}, true
	case cats.has(catCapacity):
		return verdict{outcome: AbgelehntKapazitaet, evidence: evidence}, true
	}
	return verdict{}, false
}
