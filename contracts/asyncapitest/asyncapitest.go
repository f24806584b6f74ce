// Package asyncapitest checks Kafka records against matching's AsyncAPI
// document (contracts/asyncapi.json) with JSON Schema
// (github.com/santhosh-tekuri/jsonschema/v6), so that the document cannot
// drift from the events the code emits and accepts.
//
// A record is checked against the channel of its topic: the message is the
// one named by the record's ce_type header, else by the reference envelope's
// eventType (event_type) in its value; a channel with a single message (the
// dead letters) takes that one. Its headers, its key (the message's Kafka
// binding), its value (the payload schema) and, for messages that name one
// with x-partition-key, the key's agreement with that payload field are
// validated.
//
// Where the hooks sit: pkg/store/storetest checks, when a test's database is
// dropped, every outbox row as the CloudEvent the sink would produce from it
// (OutboxRecord), so every event any test emits is checked; the end-to-end
// tests of pkg/devstack check every record they read from matching-events
// and matching-events-dlq; the README's example events are checked by
// pkg/devstack's README test.
package asyncapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/curavani/matching/contracts"
	"github.com/curavani/matching/pkg/events"
)

// Record is a Kafka record as a consumer sees it.
type Record struct {
	Topic   string
	Key     string // "" when the record has none
	Headers map[string]string
	Value   []byte
}

// docURL names the AsyncAPI document among the compiler's resources.
const docURL = "file:///contracts/asyncapi.json"

// message is one message of a channel, with its compiled schemas.
type message struct {
	name, ref    string
	keyField     string // x-partition-key, "" when none
	headers, key *jsonschema.Schema
	payload      *jsonschema.Schema
}

// Document is the AsyncAPI document, compiled: topic → its messages.
type Document struct {
	channels map[string][]*message
}

var (
	loadOnce sync.Once
	shared   *Document
	loadErr  error
)

// Load returns contracts/asyncapi.json compiled, once per test binary.
func Load() (*Document, error) {
	loadOnce.Do(func() { shared, loadErr = compile(contracts.AsyncAPI) })
	return shared, loadErr
}

// Validate checks r against the document loaded by Load.
func Validate(r Record) error {
	d, err := Load()
	if err != nil {
		return err
	}
	return d.Validate(r)
}

func compile(doc []byte) (*Document, error) {
	root, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	c := jsonschema.NewCompiler()
	// Without a schemaFormat, AsyncAPI payloads are AsyncAPI Schema, a
	// superset of JSON Schema draft-07.
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource(docURL, root); err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	top, _ := root.(map[string]any)
	chans, _ := top["channels"].(map[string]any)
	d := &Document{channels: map[string][]*message{}}
	for chName, ch := range chans {
		chMap, _ := ch.(map[string]any)
		address, _ := chMap["address"].(string)
		msgs, _ := chMap["messages"].(map[string]any)
		for msgName, m := range msgs {
			ref, _ := m.(map[string]any)["$ref"].(string)
			if !strings.HasPrefix(ref, "#/components/messages/") {
				return nil, fmt.Errorf("asyncapi: channel %s message %s: want a $ref to #/components/messages/…", chName, msgName)
			}
			msg, err := compileMessage(c, top, ref)
			if err != nil {
				return nil, fmt.Errorf("asyncapi: channel %s message %s: %w", chName, msgName, err)
			}
			d.channels[address] = append(d.channels[address], msg)
		}
	}
	return d, nil
}

func compileMessage(c *jsonschema.Compiler, top map[string]any, ref string) (*message, error) {
	def, ok := lookup(top, ref).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s does not resolve", ref)
	}
	m := &message{ref: ref}
	m.name, _ = def["name"].(string)
	m.keyField, _ = def["x-partition-key"].(string)
	var err error
	if m.payload, err = c.Compile(docURL + ref + "/payload"); err != nil {
		return nil, err
	}
	if _, ok := def["headers"]; ok {
		if m.headers, err = c.Compile(docURL + ref + "/headers"); err != nil {
			return nil, err
		}
	}
	if b, ok := def["bindings"].(map[string]any); ok {
		k, _ := b["kafka"].(map[string]any)
		if r, ok := k["$ref"].(string); ok {
			k, _ = lookup(top, r).(map[string]any)
			if _, ok := k["key"]; ok {
				m.key, err = c.Compile(docURL + r + "/key")
			}
		} else if _, ok := k["key"]; ok {
			m.key, err = c.Compile(docURL + ref + "/bindings/kafka/key")
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// lookup resolves a local JSON pointer ("#/a/b") in doc.
func lookup(doc map[string]any, ref string) any {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	return cur
}

// MessageNames returns the names of the messages of topic, sorted.
func (d *Document) MessageNames(topic string) []string {
	var out []string
	for _, m := range d.channels[topic] {
		out = append(out, m.name)
	}
	sort.Strings(out)
	return out
}

// Topics returns the addresses of the document's channels, sorted.
func (d *Document) Topics() []string {
	var out []string
	for t := range d.channels {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Validate checks r against the message of its channel; the error names
// every violation.
func (d *Document) Validate(r Record) error {
	msgs, ok := d.channels[r.Topic]
	if !ok {
		return fmt.Errorf("topic %q is no channel of the AsyncAPI document", r.Topic)
	}
	var value any
	valueErr := error(nil)
	if v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Value)); err == nil {
		value = v
	} else {
		valueErr = err
	}
	typ := r.Headers["ce_type"]
	if typ == "" {
		typ = envelopeType(value)
	}
	var m *message
	for _, c := range msgs {
		if c.name == typ || len(msgs) == 1 {
			m = c
			break
		}
	}
	if m == nil {
		return fmt.Errorf("%s: type %q is no message of the channel (it has %s)", r.Topic, typ, strings.Join(d.MessageNames(r.Topic), ", "))
	}
	name := fmt.Sprintf("%s %s key=%q", r.Topic, m.name, r.Key)
	var problems []string
	if m.headers != nil {
		headers := map[string]any{}
		for k, v := range r.Headers {
			headers[k] = v
		}
		if err := m.headers.Validate(headers); err != nil {
			problems = append(problems, "headers: "+flat(err))
		}
	}
	if m.key != nil {
		if err := m.key.Validate(r.Key); err != nil {
			problems = append(problems, "key: "+flat(err))
		}
	}
	switch {
	case valueErr == nil:
		if err := m.payload.Validate(value); err != nil {
			problems = append(problems, "payload: "+flat(err))
		}
	case len(msgs) > 1: // only a dead letter may carry a value that is no JSON
		problems = append(problems, "payload is not JSON: "+valueErr.Error())
	}
	if m.keyField != "" {
		obj, _ := value.(map[string]any)
		if got := fmt.Sprint(obj[m.keyField]); got != r.Key {
			problems = append(problems, fmt.Sprintf("key %q is not the payload's %s (%s)", r.Key, m.keyField, got))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s %s: %s", name, short(r.Value), strings.Join(problems, "; "))
	}
	return nil
}

// envelopeType reads the event type of a reference envelope, either spelling.
func envelopeType(v any) string {
	obj, _ := v.(map[string]any)
	for _, k := range []string{"eventType", "event_type"} {
		if s, ok := obj[k].(string); ok {
			return s
		}
	}
	return ""
}

// flat puts a validation error on one line.
func flat(err error) string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		var parts []string
		for _, line := range strings.Split(ve.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				parts = append(parts, line)
			}
		}
		return strings.Join(parts, " ")
	}
	return err.Error()
}

func short(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// FromProducerMessage is the record a consumer reads for m.
func FromProducerMessage(m *sarama.ProducerMessage) (Record, error) {
	r := Record{Topic: m.Topic, Headers: map[string]string{}}
	var err error
	if m.Key != nil {
		var k []byte
		if k, err = m.Key.Encode(); err != nil {
			return r, err
		}
		r.Key = string(k)
	}
	if m.Value != nil {
		if r.Value, err = m.Value.Encode(); err != nil {
			return r, err
		}
	}
	for _, h := range m.Headers {
		r.Headers[string(h.Key)] = string(h.Value)
	}
	return r, nil
}

// FromConsumerMessage is the record m holds.
func FromConsumerMessage(m *sarama.ConsumerMessage) Record {
	r := Record{Topic: m.Topic, Key: string(m.Key), Value: m.Value, Headers: map[string]string{}}
	for _, h := range m.Headers {
		r.Headers[string(h.Key)] = string(h.Value)
	}
	return r
}

// MatchingEventsTopic is the topic matching emits to.
const MatchingEventsTopic = "matching-events"

// OutboxRecord is the record the Kafka sink produces for an outbox row: the
// row's CloudEvent (events.NewCloudEvent) in Kafka binary mode, keyed by its
// partition key.
func OutboxRecord(id, eventType, key string, created time.Time, payload []byte) (Record, error) {
	e, err := events.NewCloudEvent(id, eventType, key, created, payload)
	if err != nil {
		return Record{}, fmt.Errorf("outbox row %s (%s): %w", id, eventType, err)
	}
	msg := &sarama.ProducerMessage{Topic: MatchingEventsTopic, Key: sarama.StringEncoder(key)}
	if err := kafka_sarama.WriteProducerMessage(context.Background(), binding.ToMessage(&e), msg); err != nil {
		return Record{}, fmt.Errorf("outbox row %s (%s): %w", id, eventType, err)
	}
	return FromProducerMessage(msg)
}
