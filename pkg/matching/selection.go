package matching

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// SelectTherapists builds the therapist selection list (reference-behaviour
// §3.1) from the active therapists of a PLZ prefix, in the order the
// therapist service listed them:
//
//  1. Therapists sharing an email address (compared trimmed and lower-cased)
//     are a practice and get one anfrage at most: the whole group is skipped
//     when any member has an open anfrage (pending) or is in a cooling period,
//     else one practice owner represents it (see practiceOwner).
//  2. A therapist without email is kept unless pending or cooling.
//  3. The result is sorted by tier (tier), then nachname, then vorname.
//
// Cooling counts from both sources: the therapist record's
// naechster_kontakt_moeglich and matching's own cooling date (cooling, by
// therapist id, YYYY-MM-DD). A date after today's date blocks; today is in
// the service's TIMEZONE. A therapist whose record says a status other than
// aktiv is dropped as well (the list is asked for aktiv ones only).
//
// Names are compared with German collation (ä sorts with a, not after z),
// where the reference compared code points; equal keys keep the service order.
func SelectTherapists(list []Therapist, pending map[int64]bool, cooling map[int64]string, today time.Time) []Therapist {
	blocked := func(t Therapist) bool {
		return pending[t.ID] || InCooling(str(t.NaechsterKontaktMoeglich), today) || InCooling(cooling[t.ID], today)
	}

	var groups [][]Therapist
	groupOf := map[string]int{}
	var out []Therapist
	for _, t := range list {
		if t.Status != nil && *t.Status != "aktiv" {
			continue
		}
		key := emailKey(t)
		if key == "" {
			if !blocked(t) {
				out = append(out, t)
			}
			continue
		}
		i, ok := groupOf[key]
		if !ok {
			i = len(groups)
			groupOf[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], t)
	}
	for _, g := range groups {
		if slices.ContainsFunc(g, blocked) {
			continue
		}
		out = append(out, practiceOwner(g, emailKey(g[0])))
	}

	c := collate.New(language.German)
	slices.SortStableFunc(out, func(a, b Therapist) int {
		if d := tier(a) - tier(b); d != 0 {
			return d
		}
		if d := c.CompareString(str(a.Nachname), str(b.Nachname)); d != 0 {
			return d
		}
		return c.CompareString(str(a.Vorname), str(b.Vorname))
	})
	return out
}

// emailKey is the grouping key of a therapist's email: trimmed and
// lower-cased; "" when there is none.
func emailKey(t Therapist) string {
	return strings.ToLower(strings.TrimSpace(str(t.Email)))
}

// tier ranks a therapist for contact (0 first): with email before without,
// then potentially available and informed about Curavani, available only,
// informed only, neither.
func tier(t Therapist) int {
	var n int
	available, informed := isTrue(t.PotenziellVerfuegbar), isTrue(t.UeberCuravaniInformiert)
	switch {
	case available && informed:
		n = 0
	case available:
		n = 1
	case informed:
		n = 2
	default:
		n = 3
	}
	if emailKey(t) == "" {
		n += 4
	}
	return n
}

// practiceOwner picks the member of an email group to contact:
//  1. the first member whose nachname (lower-cased, umlauts spelled out:
//     ä→ae, ö→oe, ü→ue, ß→ss) occurs in the email address;
//  2. else the member with the best title, Prof. before Dr., the first one
//     on a tie. Titles are matched as words ("Dr. med.", "Prof. Dr."), where
//     the reference matched substrings ("Dr" inside any word);
//  3. else the lowest id.
func practiceOwner(group []Therapist, email string) Therapist {
	if len(group) == 1 {
		return group[0]
	}
	for _, t := range group {
		if n := normaliseName(str(t.Nachname)); n != "" && strings.Contains(email, n) {
			return t
		}
	}
	best, bestRank := -1, 0
	for i, t := range group {
		if r := titleRank(str(t.Titel)); r > 0 && (best < 0 || r < bestRank) {
			best, bestRank = i, r
		}
	}
	if best >= 0 {
		return group[best]
	}
	return slices.MinFunc(group, func(a, b Therapist) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

var umlauts = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss")

// normaliseName prepares a surname for the search in an email address.
func normaliseName(s string) string {
	return umlauts.Replace(strings.ToLower(strings.TrimSpace(s)))
}

var (
	profTitle = regexp.MustCompile(`(?i)(^|[^\pL])prof($|[^\pL])`)
	drTitle   = regexp.MustCompile(`(?i)(^|[^\pL])dr($|[^\pL])`)
)

// titleRank is 1 for a professor, 2 for a doctor, 0 for neither.
func titleRank(titel string) int {
	switch {
	case profTitle.MatchString(titel):
		return 1
	case drTitle.MatchString(titel):
		return 2
	}
	return 0
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isTrue(b *bool) bool { return b != nil && *b }
