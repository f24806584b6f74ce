package replies_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/curavani/matching/pkg/replies"
)

// replyCase is one line of testdata/*.jsonl: the anfrage's people, the reply
// and what a clerk decided (null = undecided).
type replyCase struct {
	ID        string `json:"id"`
	AnfrageID int64  `json:"anfrage_id"`
	Patients  []struct {
		Person       int      `json:"person"`
		PatientID    int64    `json:"patient_id"`
		Geschlecht   string   `json:"geschlecht"`
		Alter        int      `json:"alter"`
		Symptome     []string `json:"symptome"`
		Krankenkasse string   `json:"krankenkasse"`
	} `json:"patients"`
	Subject   string             `json:"subject"`
	Body      string             `json:"body"`
	From      string             `json:"from"`
	Expected  map[string]*string `json:"expected"`
	Automatic *bool              `json:"automatic"` // own set only; examples: see automaticExamples
	Why       string             `json:"why"`
}

// automaticExamples are the examples of category "autoreply" in
// check_examples.py, the validator that ships with examples.jsonl.
var automaticExamples = map[string]bool{"ex004": true, "ex016": true, "ex030": true}

func (c replyCase) people() []replies.Person {
	out := make([]replies.Person, len(c.Patients))
	for i, p := range c.Patients {
		out[i] = replies.Person{Number: p.Person, PatientID: p.PatientID, Geschlecht: p.Geschlecht, Alter: p.Alter, Symptome: p.Symptome, Krankenkasse: p.Krankenkasse}
	}
	return out
}

func (c replyCase) reply() replies.Reply {
	return replies.Reply{Subject: c.Subject, Body: c.Body, From: c.From}
}

func (c replyCase) wantAutomatic() bool {
	if c.Automatic != nil {
		return *c.Automatic
	}
	return automaticExamples[c.ID]
}

// want is the expected outcome of patient id ("" = undecided).
func (c replyCase) want(id int64) string {
	if v := c.Expected[strconv.FormatInt(id, 10)]; v != nil {
		return *v
	}
	return ""
}

// fullyDecidable reports whether a clerk decided every patient.
func (c replyCase) fullyDecidable() bool {
	for _, v := range c.Expected {
		if v == nil {
			return false
		}
	}
	return len(c.Expected) > 0
}

func loadCases(t testing.TB, path string) []replyCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []replyCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var c replyCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		if len(c.Expected) != len(c.Patients) {
			t.Fatalf("%s: %d expectations for %d patients", c.ID, len(c.Expected), len(c.Patients))
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// score is the accuracy of the parser on a set of cases.
type score struct {
	cases, decidable            int // replies; replies a clerk decided fully
	decided, decidedRight       int // patients the parser decided; of them right
	clerkDecided, clerkRight    int // patients the clerk decided; of them the parser got right
	applied, appliedOfDecidable int // replies applicable automatically; of them fully decidable
	wrongApplied                int // wrong outcomes in applicable replies
	exact                       int // replies with every patient and the automatic flag right
	wrongAppliedCases, misses   []string
}

func scoreCases(cases []replyCase) score {
	var s score
	for _, c := range cases {
		s.cases++
		if c.fullyDecidable() {
			s.decidable++
		}
		res := replies.Parse(c.people(), c.reply())
		applied := res.FullyDecided && !res.Automatic
		if applied {
			s.applied++
			if c.fullyDecidable() {
				s.appliedOfDecidable++
			}
		}
		exact := res.Automatic == c.wantAutomatic()
		for _, d := range res.Decisions {
			want := c.want(d.PatientID)
			if d.Outcome != "" {
				s.decided++
				if d.Outcome == want {
					s.decidedRight++
				}
			}
			if want != "" {
				s.clerkDecided++
				if d.Outcome == want {
					s.clerkRight++
				}
			}
			if d.Outcome != want {
				exact = false
				if applied {
					s.wrongApplied++
					s.wrongAppliedCases = append(s.wrongAppliedCases, fmt.Sprintf("%s patient %d: got %q, want %q (%q)", c.ID, d.PatientID, d.Outcome, want, d.Evidence))
				}
			}
		}
		if exact {
			s.exact++
		} else {
			s.misses = append(s.misses, c.ID)
		}
	}
	return s
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

func (s score) String() string {
	return fmt.Sprintf("%d replies, %d exactly right; per patient on decided: %d/%d = %.1f %% (clerk-decided patients found: %d/%d = %.1f %%); "+
		"applied automatically: %d, of fully decidable: %d/%d = %.1f %%; wrong outcomes in applied replies: %d",
		s.cases, s.exact, s.decidedRight, s.decided, pct(s.decidedRight, s.decided), s.clerkRight, s.clerkDecided, pct(s.clerkRight, s.clerkDecided),
		s.applied, s.appliedOfDecidable, s.decidable, pct(s.appliedOfDecidable, s.decidable), s.wrongApplied)
}
