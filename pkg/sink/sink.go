// Package sink delivers the CloudEvents matching emits: over HTTP to K_SINK
// (a Knative KafkaSink in production), honouring K_CE_OVERRIDES, or with the
// kafka_sarama sender to MATCHING_EVENTS_TOPIC.
//
// A Sender delivers one event and says whether it was accepted; it does not
// retry. Retrying is the outbox relay's job, which keeps the order per
// partition key that a sender-level retry could break.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/curavani/matching/config"
)

// Sender delivers one event; an error means it was not accepted and may be
// retried later.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
	Close() error
}

// DefaultTimeout bounds one delivery attempt of the senders New builds. The
// outbox's inline publish passes a shorter deadline in its context.
const DefaultTimeout = 5 * time.Second

// ErrNotConfigured is the error of every Send when neither K_SINK nor
// KAFKA_BOOTSTRAP_SERVERS is set: events then wait in the outbox.
var ErrNotConfigured = errors.New("no sink configured (set K_SINK or KAFKA_BOOTSTRAP_SERVERS)")

// New builds the sender the environment asks for: K_SINK set → CloudEvents
// over HTTP to it with the K_CE_OVERRIDES extensions; else
// KAFKA_BOOTSTRAP_SERVERS set → Kafka to MATCHING_EVENTS_TOPIC; else a sender
// that refuses every event, so that events stay in the outbox until a sink is
// configured (a warning is logged once, here).
func New(cfg config.Common, log *slog.Logger) (Sender, error) {
	if cfg.Sink.URL != "" {
		overrides, err := cfg.Sink.Overrides()
		if err != nil {
			return nil, err
		}
		for name := range overrides {
			if !event.IsExtensionNameValid(name) {
				return nil, fmt.Errorf("K_CE_OVERRIDES: %q is not a CloudEvents extension name (lower-case letters and digits)", name)
			}
		}
		log.Info("sink: CloudEvents over HTTP", "k_sink", cfg.Sink.URL, "overrides", len(overrides))
		return NewHTTP(cfg.Sink.URL, overrides, DefaultTimeout), nil
	}
	brokers := brokerList(cfg.Kafka.BootstrapServers)
	if len(brokers) > 0 {
		s, err := NewKafka(brokers, cfg.Kafka.MatchingEventsTopic)
		if err != nil {
			return nil, err
		}
		log.Info("sink: Kafka", "brokers", strings.Join(brokers, ","), "topic", cfg.Kafka.MatchingEventsTopic)
		return s, nil
	}
	log.Warn("sink: " + ErrNotConfigured.Error() + "; emitted events stay in the outbox")
	return noSink{}, nil
}

// brokerList drops blanks and surrounding spaces from KAFKA_BOOTSTRAP_SERVERS.
func brokerList(in []string) []string {
	out := make([]string, 0, len(in))
	for _, b := range in {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// noSink is the sender when nothing is configured.
type noSink struct{}

func (noSink) Send(context.Context, cloudevents.Event) error { return ErrNotConfigured }
func (noSink) Close() error                                  { return nil }
