package asyncapitest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/curavani/matching/contracts"
)

// specSchema is the official JSON Schema of AsyncAPI 3.0.0 documents.
const specSchema = "testdata/asyncapi-spec/3.0.0.json"

// lint validates doc against the AsyncAPI 3.0.0 schema.
func lint(t *testing.T, doc []byte) error {
	t.Helper()
	raw, err := os.ReadFile(specSchema)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("http://asyncapi.com/definitions/3.0.0/asyncapi.json", spec); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("http://asyncapi.com/definitions/3.0.0/asyncapi.json")
	if err != nil {
		t.Fatalf("compile the AsyncAPI 3.0.0 schema: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// The document passes the AsyncAPI 3.0.0 specification's schema, and that
// linter is no rubber stamp: a channel whose address is a number fails it.
func TestDocument_passesTheAsyncAPI30Schema(t *testing.T) {
	if err := lint(t, contracts.AsyncAPI); err != nil {
		t.Errorf("contracts/asyncapi.json: %v", err)
	}
	bad := []byte(`{"asyncapi":"3.0.0","info":{"title":"x","version":"1"},"channels":{"c":{"address":5}}}`)
	if lint(t, bad) == nil {
		t.Error("a document with a numeric channel address passed the schema")
	}
}

// Every $ref resolves, and every message an operation names belongs to the
// operation's channel (rules the JSON Schema cannot express).
func TestDocument_referencesResolveAndOperationsUseTheirChannelsMessages(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(contracts.AsyncAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && lookup(doc, ref) == nil {
				t.Errorf("$ref %s does not resolve", ref)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	for name, op := range doc["operations"].(map[string]any) {
		ch := op.(map[string]any)["channel"].(map[string]any)["$ref"].(string)
		for _, m := range op.(map[string]any)["messages"].([]any) {
			if ref := m.(map[string]any)["$ref"].(string); !strings.HasPrefix(ref, ch+"/messages/") {
				t.Errorf("operation %s names %s, which is not a message of %s", name, ref, ch)
			}
		}
	}
}

// eventTypes reads the event type names pkg/events declares: the values of
// its string constants that look like "noun.verb", split by the comment of
// their block (the emitted ones sit in the block documented "Emitted").
func eventTypes(t *testing.T) (emitted, consumed []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../pkg/events/types.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		isEmitted := gd.Doc != nil && strings.HasPrefix(gd.Doc.Text(), "Emitted")
		for _, s := range gd.Specs {
			for _, v := range s.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				name, _ := strconv.Unquote(lit.Value)
				if !strings.Contains(name, ".") || strings.ContainsAny(name, " -/") {
					continue
				}
				if isEmitted {
					emitted = append(emitted, name)
				} else {
					consumed = append(consumed, name)
				}
			}
		}
	}
	if len(emitted) == 0 || len(consumed) == 0 {
		t.Fatalf("found %d emitted and %d consumed types in pkg/events", len(emitted), len(consumed))
	}
	return emitted, consumed
}

// Every event type the code knows has its message: the emitted ones on
// matching-events, the consumed ones on one of the input topics. A new type
// in pkg/events fails here until the document describes it.
func TestDocument_describesEveryEventTypeOfTheCode(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	emitted, consumed := eventTypes(t)
	for _, typ := range emitted {
		if !slices.Contains(d.MessageNames(MatchingEventsTopic), typ) {
			t.Errorf("emitted type %s has no message on %s", typ, MatchingEventsTopic)
		}
	}
	var inputs []string
	for _, topic := range []string{"patient-events", "therapist-events", "communication-events"} {
		inputs = append(inputs, d.MessageNames(topic)...)
	}
	for _, typ := range consumed {
		if !slices.Contains(inputs, typ) {
			t.Errorf("consumed type %s has no message on an input topic", typ)
		}
	}
	if want := []string{"communication-events", MatchingEventsTopic, "matching-events-dlq", "patient-events", "therapist-events"}; !slices.Equal(d.Topics(), want) {
		t.Errorf("channels %v, want %v", d.Topics(), want)
	}
}

// The examples the document shows are valid messages of their own.
func TestDocument_examplesAreValid(t *testing.T) {
	var doc struct {
		Channels map[string]struct {
			Address  string
			Messages map[string]struct {
				Ref string `json:"$ref"`
			}
		}
	}
	if err := json.Unmarshal(contracts.AsyncAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(contracts.AsyncAPI, &raw)
	n := 0
	for _, ch := range doc.Channels {
		for _, m := range ch.Messages {
			msg := lookup(raw, m.Ref).(map[string]any)
			examples, _ := msg["examples"].([]any)
			for _, ex := range examples {
				payload, _ := json.Marshal(ex.(map[string]any)["payload"])
				r := Record{Topic: ch.Address, Value: payload}
				if ch.Address == MatchingEventsTopic {
					var p map[string]any
					_ = json.Unmarshal(payload, &p)
					key := strconv.Itoa(int(p[msg["x-partition-key"].(string)].(float64)))
					var err error
					if r, err = OutboxRecord("6f1c2c1e-3f0a-4d53-9a8e-3b0f2c8f1a11", msg["name"].(string), key, time.Now(), payload); err != nil {
						t.Fatal(err)
					}
				}
				if err := Validate(r); err != nil {
					t.Errorf("example of %s: %v", m.Ref, err)
				}
				n++
			}
		}
	}
	if n < 8 {
		t.Errorf("%d examples checked", n)
	}
}

// What leaves the contract is reported, each kind of record.
func TestValidate_reportsWhatLeavesTheContract(t *testing.T) {
	emitted := func(typ, key, payload string) Record {
		r, err := OutboxRecord("6f1c2c1e-3f0a-4d53-9a8e-3b0f2c8f1a11", typ, key, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	withoutHeader := func(r Record, h string) Record { delete(r.Headers, h); return r }
	const created = `{"anfrage_id":2,"therapist_id":3,"patient_ids":[2,7,10],"anfrage_size":3}`
	cases := map[string]struct {
		record Record
		want   string // "" when valid
	}{
		"emitted":                   {emitted("therapeutenanfrage.created", "2", created), ""},
		"emitted, field renamed":    {emitted("therapeutenanfrage.created", "2", strings.Replace(created, "anfrage_size", "size", 1)), "payload"},
		"emitted, extra field":      {emitted("search.status_changed", "4", `{"search_id":4,"patient_id":4,"old_status":"aktiv","new_status":"abgebrochen","grund":"x"}`), "payload"},
		"emitted, status not known": {emitted("search.status_changed", "4", `{"search_id":4,"patient_id":4,"old_status":"aktiv","new_status":"weg"}`), "payload"},
		"emitted, key of another id": {emitted("cooling.period_started", "2",
			`{"therapist_id":3,"next_contactable_date":"2026-12-25","reason":"manual"}`), "is not the payload's therapist_id"},
		"emitted, no CloudEvent id": {withoutHeader(emitted("therapeutenanfrage.created", "2", created), "ce_id"), "headers"},
		"emitted, unknown type":     {emitted("therapeutenanfrage.vergessen", "2", `{"anfrage_id":2}`), "no message of the channel"},
		"consumed envelope": {Record{Topic: "patient-events", Key: "4",
			Value: []byte(`{"eventId":"e1","eventType":"patient.deleted","version":"1.0","timestamp":"2026-12-01T09:00:00","producer":"patient-service","payload":{"patient_id":4,"id":4}}`)}, ""},
		"consumed snake_case envelope": {Record{Topic: "therapist-events", Key: "12",
			Value: []byte(`{"event_id":"e2","event_type":"therapist.blocked","payload":{"therapist_id":12,"reason":null}}`)}, ""},
		"consumed CloudEvent": {Record{Topic: "communication-events", Key: "2",
			Headers: map[string]string{"ce_specversion": "1.0", "ce_id": "c1", "ce_source": "communication-service", "ce_type": "email.sent"},
			Value:   []byte(`{"email_id":2}`)}, ""},
		"consumed poison": {Record{Topic: "patient-events", Key: "vier",
			Value: []byte(`{"eventId":"e3","eventType":"patient.deleted","payload":{"patient_id":"vier"}}`)}, "payload"},
		"dead letter": {Record{Topic: "matching-events-dlq", Key: "vier",
			Headers: map[string]string{"ce_specversion": "1.0", "ce_id": "partition:1/offset:0", "ce_source": "/kafka/patient-events",
				"ce_type": "dev.knative.kafka.event", "ce_deadletterreason": "field patient_id: must be an integer", "ce_deadlettercode": "422"},
			Value: []byte(`not even JSON`)}, ""},
		"unknown topic": {Record{Topic: "geocoding-events", Value: []byte(`{}`)}, "no channel"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := Validate(tc.record)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}
