package replies_test

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/curavani/matching/pkg/replies"
)

// hostile are bodies no therapist writes, built to make a careless parser
// slow, big or crash: sizes, binary junk, many lines, long lines, deep
// repetition of what the rules look for.
func hostile() map[string]string {
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = byte(rng.IntN(256))
	}
	mib := func(unit string) string { return strings.Repeat(unit, (1<<20)/len(unit)+1)[:1<<20] }
	return map[string]string{
		"1 MiB of answer":          mib("Person 1 nehme ich gerne, Person 2 leider nicht, ich bin voll. "),
		"1 MiB after a real reply": "Person 1 nehme ich gerne.\n\n" + mib("Leider kein Platz. "),
		"binary junk":              string(junk),
		"10000 lines":              strings.Repeat("Für die Patientin mit der Depression habe ich keinen Platz.\n", 10000),
		"10000 blank lines":        strings.Repeat("\n", 10000) + "Person 1 nehme ich.",
		"one long line":            strings.Repeat("a", 1<<20),
		"long line of dots":        strings.Repeat("1. ", 300000),
		"deep parentheses":         strings.Repeat("(", 200000) + "Person 1" + strings.Repeat(")", 200000),
		"long enumeration":         "Person " + strings.Repeat("1 und ", 100000) + "2 nehme ich.",
		"many commas":              strings.Repeat("Person 1 ja, ", 50000),
		"many attributions":        strings.Repeat("Am 1.1.2024 schrieb X:\n> zitat\nAntwort Person 1 ja\n", 5000),
		"many quote headers":       strings.Repeat("Von: a\nAn: b\n", 20000),
		"html tags":                strings.Repeat("<div><span>", 100000) + "Kein Platz",
		"invalid utf-8":            strings.Repeat("\xff\xfe Person 1 \xc3", 100000),
		"many people words":        strings.Repeat("die Patientin den Herrn die Dame ", 30000),
		"many ids":                 strings.Repeat("#501 #502 #503 ", 60000),
	}
}

// TestParse_boundedOnHostileInput checks that any body is answered, with
// one decision per person and evidence no longer than a sentence.
func TestParse_boundedOnHostileInput(t *testing.T) {
	for name, body := range hostile() {
		t.Run(name, func(t *testing.T) {
			res := replies.Parse(three, replies.Reply{Subject: body[:min(len(body), 200)], Body: body, From: body[:min(len(body), 100)]})
			checkBounded(t, res, len(three))
		})
	}
}

func checkBounded(t *testing.T, res replies.Result, people int) {
	t.Helper()
	if len(res.Decisions) != people {
		t.Fatalf("%d decisions for %d people", len(res.Decisions), people)
	}
	for _, d := range res.Decisions {
		if len(d.Evidence) > 700 || !utf8.ValidString(d.Evidence) {
			t.Errorf("evidence of %d bytes (valid UTF-8: %v)", len(d.Evidence), utf8.ValidString(d.Evidence))
		}
		switch d.Outcome {
		case "", replies.Angenommen, replies.AbgelehntKapazitaet, replies.AbgelehntNichtGeeignet, replies.AbgelehntSonstiges:
		default:
			t.Errorf("outcome %q is none of the four", d.Outcome)
		}
		if (d.Outcome == "") == (d.Reason == "") {
			t.Errorf("outcome %q with reason %q", d.Outcome, d.Reason)
		}
	}
}

// TestParse_workDoesNotGrowWithTheBody parses a body of 1 MiB and one of
// 16 MiB that share their first MiB: as only a bounded prefix is read, both
// allocate the same (a deterministic measure, unlike time), and that is
// little.
func TestParse_workDoesNotGrowWithTheBody(t *testing.T) {
	for name, body := range hostile() {
		if len(body) < 1<<20 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			small, big := body[:1<<20], body[:1<<20]+strings.Repeat(body[:1<<20], 15)
			a, b := allocated(small), allocated(big)
			if b > a+a/10+(64<<10) {
				t.Errorf("16 MiB body allocates %d bytes, 1 MiB body %d: work grows with the input", b, a)
			}
			if a > 32<<20 {
				t.Errorf("1 MiB body allocates %d MiB", a>>20)
			}
		})
	}
}

func allocated(body string) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	replies.Parse(three, replies.Reply{Body: body})
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzParse feeds arbitrary subjects, bodies and senders: Parse must not
// panic and must return a well-formed, bounded result that decides only
// about the people of the anfrage, each once, in their order.
func FuzzParse(f *testing.F) {
	for _, c := range loadCases(f, "testdata/examples.jsonl") {
		f.Add(c.Subject, c.Body, "")
	}
	for _, body := range hostile() {
		f.Add("AW: Ref: A1", body[:min(len(body), 4096)], "praxis@example.org")
	}
	f.Add("", "", "")
	f.Add("Re:", ">\n>>\n-- \n## Person 9\nPerson 0, Nr. 99, #0, ID -1, die 0-jährige", "")
	f.Add("Undeliverable: Suche Psychotherapieplätze", "Person 1 nehme ich.", "MAILER-DAEMON@example.org")
	f.Fuzz(func(t *testing.T, subject, body, from string) {
		res := replies.Parse(three, replies.Reply{Subject: subject, Body: body, From: from})
		checkWellFormed(t, res)
	})
}

// FuzzParseLong repeats each body the fuzzer makes to 64 KiB, the size of
// a long mail thread, where work that grows faster than the text would
// show: the result must be well-formed and the parse allocate no more than
// the 1 MiB bodies of TestParse_workDoesNotGrowWithTheBody may (memory is
// measured, not time: it is deterministic).
func FuzzParseLong(f *testing.F) {
	for _, c := range loadCases(f, "testdata/examples.jsonl")[:20] {
		f.Add(c.Body)
	}
	for _, body := range hostile() {
		f.Add(body[:min(len(body), 512)])
	}
	f.Fuzz(func(t *testing.T, unit string) {
		if unit == "" {
			return
		}
		body := strings.Repeat(unit, (64<<10)/len(unit)+1)[:64<<10]
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res := replies.Parse(three, replies.Reply{Subject: "AW: Ref: A1", Body: body})
		runtime.ReadMemStats(&after)
		checkWellFormed(t, res)
		if a := after.TotalAlloc - before.TotalAlloc; a > 32<<20 {
			t.Fatalf("a 64 KiB body allocates %d MiB", a>>20)
		}
	})
}

func checkWellFormed(t *testing.T, res replies.Result) {
	t.Helper()
	checkBounded(t, res, len(three))
	for i, d := range res.Decisions {
		if d.PatientID != three[i].PatientID || d.Person != three[i].Number {
			t.Fatalf("decision %d is about patient %d, person %d: not the anfrage's %d", i, d.PatientID, d.Person, three[i].PatientID)
		}
	}
	if res.Automatic && res.FullyDecided {
		t.Error("an automatic reply fully decided")
	}
	if res.Reference < 0 {
		t.Errorf("reference %d", res.Reference)
	}
}
