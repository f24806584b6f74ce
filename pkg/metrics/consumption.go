package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/curavani/matching/pkg/events"
)

// outcomes are the values of the outcome label, each present from the first
// event of a source and type on; outcomeIndex maps them back.
var outcomes = [...]events.Outcome{events.Processed, events.Duplicate, events.Ignored, events.Rejected, events.Failed, events.Exhausted}

// maxConsumerKeys bounds the memo of resolved series (consumerKey →
// series); past it, a new key's series are resolved again on every call,
// which is slower but still correct.
const maxConsumerKeys = 256

// consumerKey is a (source, type) pair as the caller passed it.
type consumerKey struct{ source, eventType string }

// consumerSeries are the resolved series of one source and type, so that
// the per-event path is two string comparisons (or a map load) and two
// atomic adds.
type consumerSeries struct {
	key               consumerKey
	source, eventType string
	outcomes          [len(outcomes)]prometheus.Counter // in outcomes order
	duration          prometheus.Observer
}

// outcomeIndex is the position of o in outcomes, -1 for anything else.
func outcomeIndex(o events.Outcome) int {
	switch o {
	case events.Processed:
		return 0
	case events.Duplicate:
		return 1
	case events.Ignored:
		return 2
	case events.Rejected:
		return 3
	case events.Failed:
		return 4
	case events.Exhausted:
		return 5
	}
	return -1
}

func (m *Metrics) registerConsumption() {
	m.consumed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "matching_events_consumed_total",
		Help: "Events consumed, by source (topic), type and outcome (processed, duplicate, ignored, rejected, failed, exhausted). A failed event is delivered again and counted again; an exhausted one failed KAFKA_MAX_ATTEMPTS times and was dead-lettered.",
	}, []string{"source", "type", "outcome"})
	m.processDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "matching_event_processing_duration_seconds",
		Help:    "Time from receiving an event to its outcome (decoding, transaction, inline publish), by source and type.",
		Buckets: latencyBuckets,
	}, []string{"source", "type"})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "matching_consumer_lag_messages",
		Help: "Kafka-direct mode: records of a partition not yet processed by this consumer (high-water mark minus next offset), as of the last record processed.",
	}, []string{"topic", "partition"})
	m.reg.MustRegister(m.consumed, m.processDuration, m.lag)
}

// ObserveConsumed records one consumed event: where it came from (the
// function's topic, e.g. patient-events; a KafkaSource's CloudEvent source
// is reduced to the topic after its '#'), its type, its outcome and how long
// handling it took. The runtime calls it once per event and attempt.
func (m *Metrics) ObserveConsumed(source, eventType string, outcome events.Outcome, d time.Duration) {
	if m == nil {
		return
	}
	s := m.consumerSeries(source, eventType)
	if i := outcomeIndex(outcome); i >= 0 {
		s.outcomes[i].Inc()
	} else {
		m.consumed.WithLabelValues(s.source, s.eventType, unknownLabel).Inc()
	}
	s.duration.Observe(d.Seconds())
}

// ExpectConsumed creates the series of the event types a function applies,
// every outcome at 0, before its first event: a series that appears with
// its first event hides that event from rate() and increase().
func (m *Metrics) ExpectConsumed(source string, eventTypes ...string) {
	if m == nil {
		return
	}
	for _, t := range eventTypes {
		m.consumerSeries(source, t)
	}
}

// consumerSeries finds the series of a source and type. A function sees one
// source and mostly one type after the other, so the series of the previous
// call is tried first: comparing two strings is several times cheaper than
// the map load.
func (m *Metrics) consumerSeries(source, eventType string) *consumerSeries {
	if s := m.lastConsumer.Load(); s != nil && s.key.source == source && s.key.eventType == eventType {
		return s
	}
	key := consumerKey{source, eventType}
	var s *consumerSeries
	if v, ok := m.consumers.Load(key); ok {
		s = v.(*consumerSeries)
	} else {
		s = m.resolveSeries(key)
	}
	m.lastConsumer.Store(s)
	return s
}

// resolveSeries bounds the labels of key, creates its series (every outcome
// at 0, so that a first failure is an increase alerts see) and memoises them.
func (m *Metrics) resolveSeries(key consumerKey) *consumerSeries {
	src, typ := sourceLabel(key.source), consumedTypeLabel(key.eventType)
	m.sourcesMu.Lock()
	defer m.sourcesMu.Unlock()
	if !m.sources[src] {
		if len(m.sources) >= maxSources {
			src = otherLabel
		} else {
			m.sources[src] = true
		}
	}
	s := &consumerSeries{
		key:       key,
		source:    src,
		eventType: typ,
		duration:  m.processDuration.WithLabelValues(src, typ),
	}
	for i, o := range outcomes {
		s.outcomes[i] = m.consumed.WithLabelValues(src, typ, string(o))
	}
	if m.consumerKeys < maxConsumerKeys {
		m.consumers.Store(key, s)
		m.consumerKeys++
	}
	return s
}

// SetLag records the lag of a partition in Kafka-direct mode: how many
// records are behind the one just processed (the claim's high-water mark
// minus the record's offset minus one). A negative lag is reported as 0.
func (m *Metrics) SetLag(topic string, partition int32, lag int64) {
	if m == nil {
		return
	}
	m.lag.WithLabelValues(topic, strconv.FormatInt(int64(partition), 10)).Set(float64(max(lag, 0)))
}

// ForgetLag removes the lag series of a partition this process no longer
// consumes (its claim ended in a rebalance or at shutdown), so that a stale
// value does not linger next to the new owner's.
func (m *Metrics) ForgetLag(topic string, partition int32) {
	if m == nil {
		return
	}
	m.lag.DeleteLabelValues(topic, strconv.FormatInt(int64(partition), 10))
}
