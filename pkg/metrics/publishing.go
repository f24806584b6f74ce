package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// publishCounters are the two counters of one event type.
type publishCounters struct {
	published, failed prometheus.Counter
}

func (m *Metrics) registerPublishing() {
	published := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "matching_events_published_total",
		Help: "Events the sink acknowledged, by type (a relay re-send of an event counts again).",
	}, []string{"type"})
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "matching_events_publish_failed_total",
		Help: "Send attempts the sink refused or did not answer in time, by type; the event stays in the outbox for the relay.",
	}, []string{"type"})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "matching_event_publish_duration_seconds",
		Help:    "Duration of one send attempt to the sink, delivered or failed.",
		Buckets: latencyBuckets,
	})
	m.reg.MustRegister(published, failed, duration)

	// Every type exists from the start at 0, so that the first failure is
	// an increase that rate() and alerts see.
	m.publishedByType = make(map[string]publishCounters, len(emittedTypes)+1)
	for _, t := range append(emittedTypes, otherLabel) {
		m.publishedByType[t] = publishCounters{
			published: published.WithLabelValues(t),
			failed:    failed.WithLabelValues(t),
		}
	}
	m.publishDuration = duration
}

// Observer records one send attempt of the outbox publisher: its event type,
// the sink's error (nil when delivered) and how long the attempt took. Its
// signature is that of the publisher's observer hook:
//
//	outbox.NewPublisher(pool, sender, log, outbox.WithObserver(m.Observer))
func (m *Metrics) Observer(eventType string, err error, d time.Duration) {
	if m == nil {
		return
	}
	c, ok := m.publishedByType[eventType]
	if !ok {
		c = m.publishedByType[otherLabel]
	}
	if err != nil {
		c.failed.Inc()
	} else {
		c.published.Inc()
	}
	m.publishDuration.Observe(d.Seconds())
}

var (
	backlogDesc = prometheus.NewDesc("matching_outbox_backlog_events",
		"Outbox events not yet published (read from the database on scrape, cached briefly).", nil, nil)
	oldestDesc = prometheus.NewDesc("matching_outbox_oldest_unpublished_age_seconds",
		"Age of the oldest unpublished outbox event; 0 when the outbox is drained.", nil, nil)
)

// backlog is the outbox's unpublished rows at one scrape.
type backlog struct {
	count  int
	oldest time.Duration
}

// backlogCollector reports the outbox backlog on scrape.
type backlogCollector struct{ cache *cached[backlog] }

func (c backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- oldestDesc
}

func (c backlogCollector) Collect(ch chan<- prometheus.Metric) {
	b, err := c.cache.get()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(b.count))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, b.oldest.Seconds())
}

// CollectBacklog reports the outbox backlog (count and age of the oldest
// unpublished event) by calling fn on scrape, at most once per cache TTL.
// The outbox publisher's Backlog method fits:
//
//	m.CollectBacklog(publisher.Backlog)
//
// Call it at most once per Metrics; a second call panics.
func (m *Metrics) CollectBacklog(fn func(ctx context.Context) (count int, oldest time.Duration, err error)) {
	m.reg.MustRegister(backlogCollector{cache: newCached(m, func(ctx context.Context) (backlog, error) {
		n, age, err := fn(ctx)
		return backlog{count: n, oldest: age}, err
	})})
}
