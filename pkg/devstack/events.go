package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/google/uuid"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// Forms of an event published with Publish.
const (
	// FormEnvelope is the reference services' plain JSON record
	// {eventId, eventType, version, timestamp, producer, payload}.
	FormEnvelope = "envelope"
	// FormCloudEvent is a CloudEvent in Kafka binary mode (ce_ headers).
	FormCloudEvent = "cloudevent"
)

// TopicFor returns the topic a neighbour service publishes eventType on.
func TopicFor(eventType string) (string, error) {
	switch {
	case strings.HasPrefix(eventType, "patient."):
		return "patient-events", nil
	case strings.HasPrefix(eventType, "therapist."):
		return "therapist-events", nil
	case strings.HasPrefix(eventType, "email."), strings.HasPrefix(eventType, "communication."), strings.HasPrefix(eventType, "phone_call."):
		return "communication-events", nil
	}
	return "", fmt.Errorf("no topic known for event type %q (patient.*, therapist.*, email.*, communication.*, phone_call.*)", eventType)
}

// producerOf names the reference service that publishes eventType.
func producerOf(topic string) string {
	return strings.TrimSuffix(topic, "-events") + "-service"
}

// Published describes a record Publish wrote.
type Published struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	ID        string
}

// Publish produces one event of eventType with the JSON payload data to the
// topic its producer uses, keyed by key (by default the payload's first *_id
// field), in the given form.
func Publish(ctx context.Context, brokers []string, eventType, data, form, key string) (Published, error) {
	msg, pub, err := record(ctx, eventType, data, form, key)
	if err != nil {
		return Published{}, err
	}
	p, err := sarama.NewSyncProducer(brokers, producerConfig())
	if err != nil {
		return Published{}, fmt.Errorf("connect to kafka %v: %w", brokers, err)
	}
	defer p.Close()
	pub.Partition, pub.Offset, err = p.SendMessage(msg)
	if err != nil {
		return Published{}, fmt.Errorf("produce to %s: %w", pub.Topic, err)
	}
	return pub, nil
}

// record builds the Kafka record Publish sends, with a new event id.
func record(ctx context.Context, eventType, data, form, key string) (*sarama.ProducerMessage, Published, error) {
	var payload map[string]any
	if err := json.Unmarshal([]byte(data), &payload); err != nil {
		return nil, Published{}, fmt.Errorf("DATA is not a JSON object: %w", err)
	}
	topic, err := TopicFor(eventType)
	if err != nil {
		return nil, Published{}, err
	}
	if key == "" {
		key = defaultKey(payload)
	}
	id := uuid.NewString()
	msg := &sarama.ProducerMessage{Topic: topic}
	if key != "" {
		msg.Key = sarama.StringEncoder(key)
	}
	switch form {
	case FormEnvelope, "":
		env := map[string]any{
			"eventId":   id,
			"eventType": eventType,
			"version":   "1.0",
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000000"),
			"producer":  producerOf(topic),
			"payload":   payload,
		}
		b, _ := json.Marshal(env)
		msg.Value = sarama.ByteEncoder(b)
	case FormCloudEvent:
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource(producerOf(topic))
		e.SetType(eventType)
		e.SetTime(time.Now().UTC())
		if key != "" {
			e.SetExtension("partitionkey", key)
		}
		if err := e.SetData(cloudevents.ApplicationJSON, payload); err != nil {
			return nil, Published{}, err
		}
		if err := kafka_sarama.WriteProducerMessage(ctx, binding.ToMessage(&e), msg); err != nil {
			return nil, Published{}, err
		}
	default:
		return nil, Published{}, fmt.Errorf("FORM must be %s or %s, got %q", FormEnvelope, FormCloudEvent, form)
	}
	return msg, Published{Topic: topic, Key: key, ID: id}, nil
}

// producerConfig is the configuration of the developer commands' producer:
// synchronous, acknowledged by every in-sync replica.
func producerConfig() *sarama.Config {
	cfg := saramaConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	return cfg
}

func defaultKey(payload map[string]any) string {
	for _, f := range []string{"patient_id", "therapist_id", "email_id", "call_id", "id"} {
		if v, ok := payload[f]; ok {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// Tail prints the records of topic in readable form (partition, offset, type,
// key, payload), following new ones until ctx ends. fromStart also prints
// what the topic already holds.
func Tail(ctx context.Context, brokers []string, topic string, fromStart bool, w io.Writer) error {
	return follow(ctx, brokers, topic, fromStart, func(m *sarama.ConsumerMessage) {
		fmt.Fprintln(w, FormatRecord(m))
	})
}

// follow hands every record of topic (its partitions merged, each
// partition's records in order) to fn until ctx ends: from the oldest
// offset when fromStart, else only records produced after follow started.
// It reads without a consumer group, so it commits nothing and disturbs no
// consumer of the topic.
func follow(ctx context.Context, brokers []string, topic string, fromStart bool, fn func(*sarama.ConsumerMessage)) error {
	cfg := saramaConfig()
	// A tail shows an event as soon as it is produced.
	cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return fmt.Errorf("connect to kafka %v: %w", brokers, err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", topic, err)
	}
	start := sarama.OffsetNewest
	if fromStart {
		start = sarama.OffsetOldest
	}
	records := make(chan *sarama.ConsumerMessage)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, start)
		if err != nil {
			return fmt.Errorf("consume %s/%d: %w", topic, p, err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				select {
				case records <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-records:
			fn(m)
		}
	}
}

// FormatRecord renders one record as "topic/partition@offset type key
// payload". A reference envelope (a plain record, or one a dead-letter
// CloudEvent wraps) shows its own type and payload; a dead letter also shows
// why it was rejected.
func FormatRecord(m *sarama.ConsumerMessage) string {
	typ, reason := "", ""
	for _, h := range m.Headers {
		switch string(h.Key) {
		case "ce_type":
			typ = string(h.Value)
		case "ce_deadletterreason":
			reason = string(h.Value)
		}
	}
	value := m.Value
	if typ == "" || typ == events.KafkaEventType {
		var env struct {
			EventType      string          `json:"eventType"`
			EventTypeSnake string          `json:"event_type"`
			Payload        json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(m.Value, &env) == nil && env.EventType+env.EventTypeSnake != "" && env.Payload != nil {
			typ, value = env.EventType+env.EventTypeSnake, env.Payload
		}
	}
	if typ == "" {
		typ = "?"
	}
	line := fmt.Sprintf("%s/%d@%d  %-40s key=%-6s %s", m.Topic, m.Partition, m.Offset, typ, string(m.Key), compact(value))
	if reason != "" {
		line += "  rejected: " + reason
	}
	return line
}

func compact(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "matching-dev"
	cfg.Net.DialTimeout = 3 * time.Second
	cfg.Metadata.Retry.Max = 2
	return cfg
}

// Announcer publishes the changes the fake patient and therapist services
// make over HTTP (fake.Fake.OnChange) as the real services do: one envelope
// record per change on patient-events or therapist-events, keyed by the id.
// It keeps one producer for all of them.
type Announcer struct {
	p   sarama.SyncProducer
	log interface {
		Error(msg string, args ...any)
	}
}

// NewAnnouncer connects a producer to brokers.
func NewAnnouncer(brokers []string, log interface{ Error(string, ...any) }) (*Announcer, error) {
	p, err := sarama.NewSyncProducer(brokers, producerConfig())
	if err != nil {
		return nil, fmt.Errorf("connect to kafka %v: %w", brokers, err)
	}
	return &Announcer{p: p, log: log}, nil
}

// Announce publishes one change; a failure is logged (the fake has made
// the change and answers its caller either way, as a service whose event
// got lost would).
func (a *Announcer) Announce(c fake.Change) {
	data, err := json.Marshal(c.Payload)
	if err == nil {
		var msg *sarama.ProducerMessage
		if msg, _, err = record(context.Background(), c.Type, string(data), FormEnvelope, c.Key); err == nil {
			_, _, err = a.p.SendMessage(msg)
		}
	}
	if err != nil {
		a.log.Error("fake neighbours: change not published", "type", c.Type, "key", c.Key, "error", err.Error())
	}
}

// Close closes the producer.
func (a *Announcer) Close() error { return a.p.Close() }
