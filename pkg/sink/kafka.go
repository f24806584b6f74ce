package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/client"
)

// kafkaSender produces CloudEvents in binary mode (ce_* headers, the JSON
// data as the value) to one topic.
type kafkaSender struct {
	topic  string
	sender *kafka_sarama.Sender
	client cloudevents.Client
}

// NewKafka connects a producer to brokers and returns a sender to topic. The
// record key is the event's partitionkey extension, partitioned with murmur2
// like the Java client of a Knative KafkaSink, so both transports put a key
// on the same partition. A send succeeds only when every in-sync replica has
// the record; the producer is idempotent, so its own retries neither
// duplicate nor reorder records.
func NewKafka(brokers []string, topic string) (Sender, error) {
	if len(brokers) == 0 {
		return nil, errors.New("sink: kafka: no bootstrap servers")
	}
	if topic == "" {
		return nil, errors.New("sink: kafka: no topic")
	}
	s, err := kafka_sarama.NewSender(brokers, producerConfig(), topic)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka %v: %w", brokers, err)
	}
	c, err := cloudevents.NewClient(s, client.WithForceBinary())
	if err != nil {
		_ = s.Close(context.Background())
		return nil, fmt.Errorf("sink: kafka: %w", err)
	}
	return &kafkaSender{topic: topic, sender: s, client: c}, nil
}

// producerConfig is the sarama configuration of the sender.
func producerConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "matching-service"
	// 2.8 speaks to every broker from Kafka 2.8 to 4.x (4.0 dropped the
	// older request versions), KRaft included.
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	// Idempotence makes the producer's internal retries safe: the broker
	// drops a retried batch it already has and keeps the order. It needs
	// one request in flight per connection.
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Retry.Max = 3
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Timeout = DefaultTimeout
	cfg.Producer.Partitioner = sarama.NewMurmur2Partitioner
	// Fail within seconds when the cluster is unreachable: the event stays
	// in the outbox and the relay tries again, so waiting longer gains nothing.
	cfg.Net.DialTimeout = DefaultTimeout
	cfg.Net.ReadTimeout = 2 * DefaultTimeout
	cfg.Net.WriteTimeout = DefaultTimeout
	cfg.Metadata.Retry.Max = 2
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

// Send produces e and waits for the acknowledgement, or until ctx is done.
// sarama's synchronous producer takes no context: when ctx ends first, Send
// returns its error and the record may still be written later, which the
// outbox tolerates (at-least-once; consumers dedupe by id).
func (s *kafkaSender) Send(ctx context.Context, e cloudevents.Event) error {
	done := make(chan error, 1)
	go func() {
		res := s.client.Send(ctx, e)
		if !cloudevents.IsACK(res) {
			done <- res
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("sink: produce %s %s to %s: %w", e.Type(), e.ID(), s.topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sink: produce %s %s to %s: %w", e.Type(), e.ID(), s.topic, ctx.Err())
	}
}

// Close flushes and closes the producer.
func (s *kafkaSender) Close() error {
	return s.sender.Close(context.Background())
}
