package devstack

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/contracts/asyncapitest"
)

var (
	// make event TYPE=patient.deleted DATA='{"patient_id":4}' [FORM=…] [KEY=…]   # comment
	readmeEvent = regexp.MustCompile(`^make event TYPE=(\S+) DATA='([^']*)'((?: (?:FORM|KEY)=\S+)*)\s*(#.*)?$`)
	// matching-events/1@0  search.status_changed  key=10  {…}  [rejected: …]
	readmeTail = regexp.MustCompile(`^(?:# )?(matching-events(?:-dlq)?)/\d+@\d+\s+(\S+)\s+key=(\S*)\s+(\{.*?\})(\s+rejected: .*)?$`)
	// curl … -H 'Ce-Type: patient.deleted' … -d '{…}'
	readmeHeader = regexp.MustCompile(`-H '(Ce-[A-Za-z]+): ([^']*)'`)
	readmeData   = regexp.MustCompile(`-d '([^']*)'`)
)

// Every example event of the README is one the AsyncAPI document allows —
// the events `make event` publishes (built exactly as the command builds
// them, in the form it names), the events `make tail` shows on
// matching-events, the CloudEvent posted with curl — and the examples the
// README calls poison are ones it does not allow. The README cannot drift
// from the contract, nor the contract from the README.
func TestReadme_exampleEventsMeetTheEventContract(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	check := func(what string, r asyncapitest.Record, poison bool) {
		t.Helper()
		err := asyncapitest.Validate(r)
		switch {
		case !poison && err != nil:
			t.Errorf("README %s: %v", what, err)
		case poison && err == nil:
			t.Errorf("README %s is called poison, but the event contract allows it", what)
		}
	}
	var published, tailed, curled int
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if m := readmeEvent.FindStringSubmatch(line); m != nil {
			form, key := FormEnvelope, ""
			for _, opt := range strings.Fields(m[3]) {
				k, v, _ := strings.Cut(opt, "=")
				if k == "FORM" {
					form = v
				} else {
					key = v
				}
			}
			msg, _, err := record(context.Background(), m[1], m[2], form, key)
			if err != nil {
				t.Fatalf("README line %d: %v", i+1, err)
			}
			r, err := asyncapitest.FromProducerMessage(msg)
			if err != nil {
				t.Fatal(err)
			}
			check(line, r, strings.Contains(m[4], "poison"))
			published++
		}
		if m := readmeTail.FindStringSubmatch(line); m != nil {
			topic, typ, key, payload := m[1], m[2], m[3], m[4]
			if topic == "matching-events-dlq" {
				// A dead letter shows the rejected event's payload: rebuilt as
				// the envelope it came in, the contract must refuse it.
				msg, _, err := record(context.Background(), typ, payload, FormEnvelope, key)
				if err != nil {
					t.Fatalf("README line %d: %v", i+1, err)
				}
				r, _ := asyncapitest.FromProducerMessage(msg)
				check(line, r, true)
			} else {
				r, err := asyncapitest.OutboxRecord("6f1c2c1e-3f0a-4d53-9a8e-3b0f2c8f1a11", typ, key, time.Now(), []byte(payload))
				if err != nil {
					t.Fatal(err)
				}
				check(line, r, false)
			}
			tailed++
		}
		if strings.HasPrefix(line, "curl") && strings.Contains(line, "Ce-Specversion") {
			cmd := line
			for j := i + 1; strings.HasSuffix(strings.TrimSpace(lines[j-1]), `\`); j++ {
				cmd += " " + strings.TrimSpace(lines[j])
			}
			r := asyncapitest.Record{Headers: map[string]string{"content-type": "application/json"}}
			for _, h := range readmeHeader.FindAllStringSubmatch(cmd, -1) {
				r.Headers["ce_"+strings.ToLower(strings.TrimPrefix(h[1], "Ce-"))] = h[2]
			}
			if d := readmeData.FindStringSubmatch(cmd); d != nil {
				r.Value = []byte(d[1])
			}
			r.Topic, err = TopicFor(r.Headers["ce_type"])
			if err != nil {
				t.Fatalf("README line %d: %v", i+1, err)
			}
			check(cmd, r, false)
			curled++
		}
	}
	// The README shows four make event examples, nine lines of make tail
	// and a dead letter, and one CloudEvent over HTTP; fewer means the
	// parsing above no longer sees them.
	if published < 4 || tailed < 10 || curled < 1 {
		t.Errorf("found %d make event lines, %d make tail lines and %d curl CloudEvents in the README", published, tailed, curled)
	}
}

// make reply ANFRAGE=2 TEXT='…'   # comment
var readmeReplyLine = regexp.MustCompile(`^make reply ANFRAGE=(\d+) TEXT='([^']*)'`)

// readmeReply is the TEXT of the README's make reply line for anfrage id:
// the story test delivers the replies the README shows.
func readmeReply(t testing.TB, id string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if m := readmeReplyLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil && m[1] == id {
			return m[2]
		}
	}
	t.Fatalf("the README shows no make reply ANFRAGE=%s", id)
	return ""
}
