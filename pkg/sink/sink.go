// Package sink delivers the CloudEvents matching emits: over HTTP to K_SINK
// (a Knative KafkaSink in production), honouring K_CE_OVERRIDES, or with the
// kafka_sarama sender to MATCHING_EVENTS_TOPIC.
package sink

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Sender delivers one event; an error means it was not accepted and may be
// retried later.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
	Close() error
}
