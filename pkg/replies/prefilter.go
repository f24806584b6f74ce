package replies

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// Most phrases of the lexicon cannot occur in most clauses. A phrase is only
// run when its clause contains one of the literal words every match of it
// must contain; this keeps reading a reply fast without changing what any
// pattern means.

// filtered is a regular expression with the literals one of which every
// match contains (nil: unknown, always run it).
type filtered struct {
	*regexp.Regexp
	needs []string
}

func newFiltered(re *regexp.Regexp) filtered {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return filtered{Regexp: re}
	}
	return filtered{Regexp: re, needs: required(parsed.Simplify())}
}

// mayMatch reports whether s contains one of the needed literals.
func (f filtered) mayMatch(s string) bool {
	if f.needs == nil {
		return true
	}
	for _, n := range f.needs {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// required returns literals one of which every match of re contains, or nil.
func required(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 || len(re.Rune) < 2 {
			return nil
		}
		return []string{string(re.Rune)}
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		// Any required part will do; take the one with the longest
		// shortest literal, which filters best.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			lits := required(sub)
			if lits == nil {
				continue
			}
			shortest := len(lits[0])
			for _, l := range lits {
				shortest = min(shortest, len(l))
			}
			if shortest > bestLen {
				best, bestLen = lits, shortest
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			lits := required(sub)
			if lits == nil {
				return nil
			}
			all = append(all, lits...)
		}
		return all
	}
	return nil
}
