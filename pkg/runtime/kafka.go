package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/metrics"
)

// DeadLetterSender publishes a poison record's CloudEvent to the dead-letter
// topic; a sink.Sender for MATCHING_EVENTS_DLQ_TOPIC implements it.
type DeadLetterSender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}

// ConsumerOptions configure the Kafka-direct consumer of one function.
type ConsumerOptions struct {
	Brokers []string
	Topic   string
	Group   string
	// DeadLetter receives poison records (required).
	DeadLetter DeadLetterSender
	// MinBackoff and MaxBackoff bound the wait between attempts at a record
	// that failed transiently (defaults 100ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts bounds the attempts at a record whose failure is not
	// classified (KAFKA_MAX_ATTEMPTS, default 10): see giveUp.
	MaxAttempts int
	// BatchSize bounds the records of a partition applied together when
	// the handler is a BatchHandler (KAFKA_BATCH_SIZE; 0: DefaultBatchSize).
	// 1 handles each record on its own (Handle), as any other handler.
	BatchSize int
	// Config, if set, is the sarama configuration to start from.
	Config *sarama.Config
	// Metrics, if set, counts and times every attempt at a record (source
	// label: the topic) and keeps the lag of each partition this consumer
	// holds.
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// Consumer consumes one topic in a consumer group and hands each record to a
// Handler: the records of a partition strictly in order, each offset marked
// only after its record was processed (or dead-lettered), so a crash at any
// point redelivers rather than skips.
type Consumer struct {
	opts    ConsumerOptions
	handler Handler
	log     *slog.Logger
	// attemptTimeout bounds one attempt (see attemptTimeout).
	attemptTimeout time.Duration
}

// NewConsumer returns a consumer for h; Run starts it.
func NewConsumer(opts ConsumerOptions, h Handler) *Consumer {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("topic", opts.Topic), slog.String("group", opts.Group))
	if opts.Config == nil {
		opts.Config = SaramaConfig()
		// A batch is what is already fetched: the claim's channel must be
		// able to hold a whole one.
		opts.Config.ChannelBufferSize = max(opts.Config.ChannelBufferSize, opts.BatchSize)
	}
	return &Consumer{opts: opts, handler: h, log: log, attemptTimeout: attemptTimeout(opts.Config)}
}

// SaramaConfig is the consumer configuration: a new group starts at the
// oldest offset (nothing produced before the first start is missed), and
// marked offsets are committed every second and when a session ends.
func SaramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "matching-service"
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = time.Second
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	return cfg
}

// attemptTimeout bounds one attempt at a record: three quarters of the
// consumer group's rebalance timeout (sarama's Consumer.Group.Rebalance.
// Timeout, 60 s by default, so 45 s). When the group rebalances, the
// session ends and ConsumeClaim must return before the rebalance timeout,
// or the coordinator drops this member and its partitions move while it
// still works on one; an attempt under way is not cut short by the session
// ending (its transaction commits or fails on its own), so it must end in
// time by itself. The backoff between attempts ends with the session.
func attemptTimeout(cfg *sarama.Config) time.Duration {
	return cfg.Consumer.Group.Rebalance.Timeout * 3 / 4
}

// giveUp reports whether a record that failed its attempt-th attempt with
// err is dead-lettered instead of retried. A poison record (a 4xx kind:
// bad input, or a deterministic failure such as an undefined column) was
// dead-lettered already; one failing because a dependency is unavailable
// (fault.Unavailable: the database or a neighbour down, a deadlock, a
// deadline) is retried until it is back, however long; an unclassified
// failure is retried MaxAttempts times, so that a failure nobody foresaw,
// deterministic for this record, cannot stop its partition for ever.
func (c *Consumer) giveUp(attempt int, err error) bool {
	return fault.KindOf(err) == fault.Transient && attempt >= c.opts.MaxAttempts
}

// Run consumes until ctx is done. A failed session (broker gone, rebalance
// error) is logged and the loop joins the group again after a pause; only
// an invalid configuration ends Run early.
func (c *Consumer) Run(ctx context.Context) error {
	cfg := c.opts.Config
	var group sarama.ConsumerGroup
	pause := c.opts.MinBackoff
	for {
		var err error
		group, err = sarama.NewConsumerGroup(c.opts.Brokers, c.opts.Group, cfg)
		if err == nil {
			break
		}
		var cfgErr sarama.ConfigurationError
		if errors.As(err, &cfgErr) {
			return fmt.Errorf("kafka consumer: %w", err)
		}
		c.log.Error("kafka consumer: cannot connect, retrying", slog.String("error", err.Error()))
		if !sleep(ctx, pause) {
			return nil
		}
		pause = min(2*pause, c.opts.MaxBackoff)
	}
	defer group.Close()
	go func() {
		for err := range group.Errors() {
			c.log.Error("kafka consumer error", slog.String("error", err.Error()))
		}
	}()
	c.log.Info("kafka consumer started")
	pause = c.opts.MinBackoff
	for ctx.Err() == nil {
		err := group.Consume(ctx, []string{c.opts.Topic}, c)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			c.log.Error("kafka consumer session ended, joining again", slog.String("error", err.Error()))
			if !sleep(ctx, pause) {
				break
			}
			pause = min(2*pause, c.opts.MaxBackoff)
			continue
		}
		pause = c.opts.MinBackoff
	}
	c.log.Info("kafka consumer stopped")
	return nil
}

// Setup is called when a session starts (sarama.ConsumerGroupHandler).
func (c *Consumer) Setup(sarama.ConsumerGroupSession) error { return nil }

// Cleanup commits what the session marked before it ends.
func (c *Consumer) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

// ConsumeClaim processes one partition's records in order. It returns
// without marking the current record when the session ends (shutdown or
// rebalance); the record is then delivered again. After each marked record
// the partition's lag is the records behind it up to the claim's high-water
// mark; when the claim ends its lag series goes, as another consumer may
// own the partition now.
//
// A BatchHandler's records are applied in batches instead
// (consumeBatches), unless BatchSize is 1.
func (c *Consumer) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	defer c.opts.Metrics.ForgetLag(claim.Topic(), claim.Partition())
	if h, ok := c.handler.(BatchHandler); ok && c.opts.BatchSize > 1 {
		return c.consumeBatches(s, claim, h)
	}
	for {
		select {
		case <-s.Context().Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !c.process(s.Context(), msg) {
				return nil
			}
			s.MarkMessage(msg, "")
			c.opts.Metrics.SetLag(msg.Topic, msg.Partition, claim.HighWaterMarkOffset()-msg.Offset-1)
		}
	}
}

// process handles one record until it is done: processed, ignored,
// duplicate, or poison (or given up on, see giveUp) and dead-lettered. A
// transient failure is retried in place with exponential backoff. It
// reports false when the session ended before the record was done.
func (c *Consumer) process(session context.Context, msg *sarama.ConsumerMessage) bool {
	e, decodeErr := recordEvent(msg)
	backoff := c.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		// The attempt itself is not cut short by the session ending: a
		// transaction under way commits or fails on its own, within
		// attemptTimeout.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(session), c.attemptTimeout)
		in, outcome, err := c.handle(ctx, e, decodeErr)
		if outcome == events.Failed && c.giveUp(attempt, err) {
			outcome = events.Exhausted
		}
		took := time.Since(start)
		c.opts.Metrics.ObserveConsumed(c.opts.Topic, in.Type, outcome, took)
		attrs := []any{slog.Any("", in), slog.String("outcome", string(outcome)),
			slog.Int("partition", int(msg.Partition)), slog.Int64("offset", msg.Offset),
			slog.Int("attempt", attempt), slog.Duration("duration", took)}
		if err != nil {
			attrs = append(attrs, slog.String("kind", fault.KindOf(err).String()), slog.String("error", err.Error()))
		}
		switch outcome {
		case events.Processed, events.Duplicate, events.Ignored:
			cancel()
			c.log.Debug("record handled", attrs...)
			return true
		case events.Rejected, events.Exhausted:
			msgText := "record rejected: sending it to the dead-letter topic"
			if outcome == events.Exhausted {
				msgText = "record failed too often: sending it to the dead-letter topic"
			}
			c.log.Error(msgText, attrs...)
			err = c.opts.DeadLetter.Send(ctx, deadLetter(e, msg, outcome, err, attempt))
			cancel()
			if err == nil {
				return true
			}
			c.log.Error("dead-letter publish failed, retrying", append(attrs, slog.String("dead_letter_error", err.Error()))...)
		default:
			cancel()
			c.log.Error("record failed, retrying", append(attrs, slog.Duration("backoff", backoff))...)
		}
		if !sleep(session, backoff) {
			return false
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

func (c *Consumer) handle(ctx context.Context, e cloudevents.Event, decodeErr error) (events.Inbound, events.Outcome, error) {
	if decodeErr != nil {
		return events.Inbound{ID: e.ID(), Type: e.Type()}, events.Rejected, decodeErr
	}
	return c.handler.Handle(ctx, e)
}

// recordEvent turns a record into the CloudEvent the handler sees. A record
// that is a CloudEvent (kafka_sarama binary headers or a structured
// content type) is decoded as such; any other record is wrapped the way a
// Knative KafkaSource wraps it, so both transports hand the handler the same
// event. The error is set for a record that claims to be a CloudEvent but is
// malformed; the returned event then wraps the raw record.
func recordEvent(msg *sarama.ConsumerMessage) (cloudevents.Event, error) {
	m := kafka_sarama.NewMessageFromConsumerMessage(msg)
	if m.ReadEncoding() == binding.EncodingUnknown {
		return wrapRecord(msg), nil
	}
	e, err := binding.ToEvent(context.Background(), m)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		return wrapRecord(msg), fault.Malformedf("malformed CloudEvent record: %v", err)
	}
	if ct := e.DataContentType(); ct != "" {
		if canonical, ok := mediaType(ct); ok && canonical != ct {
			e.SetDataContentType(canonical)
		}
	}
	if _, ok := e.Extensions()["partitionkey"]; !ok && msg.Key != nil {
		e.SetExtension("partitionkey", string(msg.Key))
	}
	return *e, nil
}

// mediaType is a content type in its canonical form (lower case, as
// mime.FormatMediaType writes it), or false when it is not a media type.
// An event keeps no content type it could not be written with again: one
// that is no media type makes an invalid CloudEvent, whose dead letter the
// sink refuses, so that the record would be retried for ever; one in mixed
// case ("AppliCAtiOn/json") is read and written differently by the
// CloudEvents SDK, so that the dead letter's reader could not read it.
// Both found by FuzzKafkaRecord.
func mediaType(v string) (string, bool) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", false
	}
	ct := mime.FormatMediaType(mt, params)
	return ct, ct != ""
}

// wrapRecord builds the CloudEvent a KafkaSource delivers for a record that
// is not a CloudEvent: type dev.knative.kafka.event, id
// partition:<p>/offset:<o>, the raw value as data, the record key as the key
// and partitionkey extensions.
func wrapRecord(msg *sarama.ConsumerMessage) cloudevents.Event {
	e := cloudevents.NewEvent()
	p, o := strconv.Itoa(int(msg.Partition)), strconv.FormatInt(msg.Offset, 10)
	e.SetType(events.KafkaEventType)
	e.SetID("partition:" + p + "/offset:" + o)
	e.SetSource("/kafka/" + msg.Topic)
	e.SetSubject("partition:" + p + "#" + o)
	if !msg.Timestamp.IsZero() {
		e.SetTime(msg.Timestamp)
	}
	for _, h := range msg.Headers {
		if string(h.Key) == "content-type" {
			if ct, ok := mediaType(string(h.Value)); ok {
				e.SetDataContentType(ct)
			}
		}
	}
	if msg.Key != nil {
		e.SetExtension("key", string(msg.Key))
		e.SetExtension("partitionkey", string(msg.Key))
	}
	e.DataEncoded = msg.Value
	return e
}

// deadLetter is the event published for a poison record, or one given up
// on: the event as the handler saw it (for a plain record, its raw value as
// data), with the reason, the error's kind and the record's coordinates as
// extensions. The dead-letter topic is the operators', so a record given up
// on carries its error's own text (the reason an operator needs to decide
// whether to replay it); a rejected one carries the message a caller over
// HTTP would see.
func deadLetter(e cloudevents.Event, msg *sarama.ConsumerMessage, outcome events.Outcome, err error, attempts int) cloudevents.Event {
	d := e.Clone()
	why := reason(err)
	if outcome == events.Exhausted {
		why = fmt.Sprintf("gave up after %d attempts: %s", attempts, oneLine(errString(err)))
	}
	d.SetExtension("deadletterreason", why)
	d.SetExtension("deadletterkind", fault.KindOf(err).String())
	d.SetExtension("deadlettercode", strconv.Itoa(status(events.Rejected, err)))
	d.SetExtension("kafkatopic", msg.Topic)
	d.SetExtension("kafkapartition", strconv.Itoa(int(msg.Partition)))
	d.SetExtension("kafkaoffset", strconv.FormatInt(msg.Offset, 10))
	if msg.Key != nil {
		d.SetExtension("partitionkey", string(msg.Key))
	}
	return d
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sleep waits d or until ctx is done; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
