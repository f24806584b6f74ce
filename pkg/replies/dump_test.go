package replies

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// TestDump prints how the parser reads one case of testdata
// (REPLIES_DUMP=ex007 or o012): every clause with its people and signals.
func TestDump(t *testing.T) {
	id := os.Getenv("REPLIES_DUMP")
	if id == "" {
		t.Skip("set REPLIES_DUMP to a case id")
	}
	for _, path := range []string{"testdata/examples.jsonl", "testdata/own.jsonl"} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var c struct {
				ID       string
				Patients []struct {
					Person       int
					PatientID    int64 `json:"patient_id"`
					Geschlecht   string
					Alter        int
					Symptome     []string
					Krankenkasse string
				}
				Subject, Body string
			}
			if json.Unmarshal(sc.Bytes(), &c) != nil || c.ID != id {
				continue
			}
			var people []Person
			for _, p := range c.Patients {
				people = append(people, Person{Number: p.Person, PatientID: p.PatientID, Geschlecht: p.Geschlecht, Alter: p.Alter, Symptome: p.Symptome, Krankenkasse: p.Krankenkasse})
			}
			ans := extractAnswer(plainText(c.Body))
			for _, l := range ans.lines {
				fmt.Printf("LINE %d %q\n", l.person, l.text)
			}
			d := analyse(ans, newPeople(people))
			for _, cl := range d.clauses {
				fmt.Printf("u%d %+v\n   %+v\n   %q\n", cl.unit, cl.refs, cl.sig, cl.sentence)
			}
			fmt.Printf("%+v\n", Parse(people, Reply{Subject: c.Subject, Body: c.Body}))
		}
		f.Close()
	}
}
