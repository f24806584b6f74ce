package runtime

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/inbox"
)

// DefaultBatchSize is the bound on the records of a partition applied in
// one transaction when ConsumerOptions.BatchSize is not set
// (KAFKA_BATCH_SIZE's default): the measured best of make bench-catchup
// (README, operating section).
const DefaultBatchSize = 250

// BatchHandler is a Handler that also applies several events together, as
// if one at a time in order (*inbox.Processor does): HandleBatch returns
// one inbox.Handled per event, in order, and stops at the first Failed
// one (the events after it are Failed with inbox.ErrNotAttempted and
// changed nothing). A consumer whose handler implements it applies the
// records of a partition in batches (ConsumerOptions.BatchSize).
type BatchHandler interface {
	Handler
	HandleBatch(ctx context.Context, es []cloudevents.Event) []inbox.Handled
}

// consumeBatches is ConsumeClaim for a BatchHandler: it takes the records
// already fetched for the claim, without waiting for more, up to BatchSize,
// applies them in one go (processBatch) and marks the offsets of those done.
func (c *Consumer) consumeBatches(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, h BatchHandler) error {
	msgs := claim.Messages()
	batch := make([]*sarama.ConsumerMessage, 0, c.opts.BatchSize)
	for {
		select {
		case <-s.Context().Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				return nil
			}
			batch = append(batch[:0], msg)
		}
	drain:
		for len(batch) < c.opts.BatchSize {
			select {
			case msg, ok := <-msgs:
				if !ok {
					break drain
				}
				batch = append(batch, msg)
			default:
				break drain
			}
		}
		done := c.processBatch(s.Context(), h, batch)
		for _, msg := range batch[:done] {
			s.MarkMessage(msg, "")
		}
		if done > 0 {
			last := batch[done-1]
			c.opts.Metrics.SetLag(last.Topic, last.Partition, claim.HighWaterMarkOffset()-last.Offset-1)
		}
		if done < len(batch) {
			return nil
		}
	}
}

// processBatch handles msgs, in order, until each is done as process does
// for one: processed, ignored, duplicate, or dead-lettered. Records that do
// not decode are dead-lettered without a transaction; the others are
// applied together (HandleBatch). When a record fails transiently, those
// before it are done and it is retried, with the records after it, after
// the backoff; its attempts are counted for giveUp. It returns how many
// records are done, all of them unless the session ended first.
func (c *Consumer) processBatch(session context.Context, h BatchHandler, msgs []*sarama.ConsumerMessage) int {
	decoded := make([]cloudevents.Event, len(msgs))
	decodeErrs := make([]error, len(msgs))
	for i, msg := range msgs {
		decoded[i], decodeErrs[i] = recordEvent(msg)
	}
	done, attempt := 0, 1
	backoff := c.opts.MinBackoff
	for {
		n, failed := c.attemptBatch(session, h, msgs[done:], decoded[done:], decodeErrs[done:], attempt)
		if done += n; done == len(msgs) {
			return done
		}
		if n > 0 {
			attempt, backoff = 1, c.opts.MinBackoff
		}
		if !failed {
			// The record at done was not attempted (the one before it was
			// given up on and dead-lettered): it goes at once.
			continue
		}
		attempt++
		if !sleep(session, backoff) {
			return done
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

// attemptBatch is one attempt at msgs (attempt counts the first record's
// attempts; the others are at their first): the records that decode are
// handled together, then each record's outcome is logged, counted and, for
// poison or a record given up on, dead-lettered, in order. It returns how
// many records are done, and whether the next one failed (or its
// dead-letter publish did) rather than was not attempted.
func (c *Consumer) attemptBatch(session context.Context, h BatchHandler, msgs []*sarama.ConsumerMessage,
	es []cloudevents.Event, decodeErrs []error, attempt int) (int, bool) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(session), c.attemptTimeout)
	defer cancel()
	valid := make([]cloudevents.Event, 0, len(es))
	for i, e := range es {
		if decodeErrs[i] == nil {
			valid = append(valid, e)
		}
	}
	handled := h.HandleBatch(ctx, valid)
	took := time.Since(start)
	next := 0
	for i, msg := range msgs {
		var r inbox.Handled
		if decodeErrs[i] != nil {
			r = inbox.Handled{In: events.Inbound{ID: es[i].ID(), Type: es[i].Type()},
				Result: inbox.Result{Outcome: events.Rejected, Err: decodeErrs[i]}}
		} else {
			r, next = handled[next], next+1
		}
		a := 1
		if i == 0 {
			a = attempt
		}
		if !c.settle(ctx, msg, es[i], r, a, took, len(msgs)) {
			return i, !errors.Is(r.Err, inbox.ErrNotAttempted)
		}
	}
	return len(msgs), false
}

// settle logs and counts one record's outcome in a batch and dead-letters
// it when it is poison or given up on; it reports whether the record is
// done (false: it failed and is to be retried, or its dead-letter publish
// failed). took is the batch's time: each of its events waited that long.
func (c *Consumer) settle(ctx context.Context, msg *sarama.ConsumerMessage, e cloudevents.Event, r inbox.Handled,
	attempt int, took time.Duration, size int) bool {
	outcome, err := r.Outcome, r.Err
	if outcome == events.Failed && c.giveUp(attempt, err) {
		outcome = events.Exhausted
	}
	notAttempted := outcome == events.Failed && errors.Is(err, inbox.ErrNotAttempted)
	if !notAttempted {
		c.opts.Metrics.ObserveConsumed(c.opts.Topic, r.In.Type, outcome, took)
	}
	attrs := []any{slog.Any("", r.In), slog.String("outcome", string(outcome)),
		slog.Int("partition", int(msg.Partition)), slog.Int64("offset", msg.Offset),
		slog.Int("attempt", attempt), slog.Duration("duration", took), slog.Int("batch", size)}
	if err != nil {
		attrs = append(attrs, slog.String("kind", fault.KindOf(err).String()), slog.String("error", err.Error()))
	}
	switch outcome {
	case events.Processed, events.Duplicate, events.Ignored:
		c.log.Debug("record handled", attrs...)
		return true
	case events.Rejected, events.Exhausted:
		msgText := "record rejected: sending it to the dead-letter topic"
		if outcome == events.Exhausted {
			msgText = "record failed too often: sending it to the dead-letter topic"
		}
		c.log.Error(msgText, attrs...)
		if err := c.opts.DeadLetter.Send(ctx, deadLetter(e, msg, outcome, err, attempt)); err != nil {
			c.log.Error("dead-letter publish failed, retrying", append(attrs, slog.String("dead_letter_error", err.Error()))...)
			return false
		}
		return true
	}
	if !notAttempted {
		c.log.Error("record failed, retrying", attrs...)
	}
	return false
}
