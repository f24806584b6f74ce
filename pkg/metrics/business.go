package metrics

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Channels of matching_anfragen_sent_total.
const (
	channelEmail     = "email"
	channelPhoneCall = "phone_call"
)

// responseTypes are the labels of public.antworttyp, in the order the
// business query counts them.
var responseTypes = []string{"vollstaendige_Annahme", "teilweise_Annahme", "vollstaendige_Ablehnung", "keine_Antwort"}

// responseTimeBuckets are the upper bounds, in seconds, of the response
// time histogram: 1 h, 6 h, 1, 2, 3, 7, 14 and 30 days. The counting
// trigger (matching_service.anfrage_counts, migration 00032) counts exactly
// these (labels le_3600 … le_2592000); change both together.
var responseTimeBuckets = []float64{3600, 21600, 86400, 172800, 259200, 604800, 1209600, 2592000}

// businessSQL reads every business counter: the sums of the increments the
// triggers of migration 00032 write into business_counter in the
// transactions that create, send and answer anfragen, write a
// therapeutenanfrage.follow_up_scheduled to the outbox and consume a
// phone_call.completed. Counted as things happen rather than from the rows
// that are left, they never go down when the outbox and processed_events
// are pruned or an anfrage is deleted. The table holds a row per name and
// label once the relay folded it (store.Prune), plus the increments since:
// a few hundred rows at most, read in well under a millisecond.
//
// The rules are those the counters were computed with before, applied at
// the change: an anfrage sent by email stays channel email when the
// follow-up job later gives it a call; phone_call is an anfrage sent by
// phone without an email; one marked sent with neither counts as unknown.
// The response time is antwort_datum − gesendet_datum, negative values as
// 0, counted once both are set; the histogram's buckets are cumulative
// (rt <= le).
const businessSQL = `
SELECT name, label, sum(value)::float8
FROM matching_service.business_counter
GROUP BY name, label`

// business is one reading of the business counters.
type business struct {
	created                               int64
	sentEmail, sentPhoneCall, sentUnknown int64
	responses                             [4]int64 // in responseTypes order
	rtCount                               int64
	rtSum                                 float64
	rtBuckets                             [8]int64 // in responseTimeBuckets order
	followUpsScheduled, callsCompleted    int64
}

// set stores one counter of business_counter by its name and label (the
// names and labels migration 00032 writes).
func (b *business) set(name, label string, v float64) {
	n := int64(v)
	switch name {
	case "anfragen_created":
		b.created = n
	case "anfragen_sent":
		switch label {
		case channelEmail:
			b.sentEmail = n
		case channelPhoneCall:
			b.sentPhoneCall = n
		default:
			b.sentUnknown = n
		}
	case "anfragen_responses":
		if i := slices.Index(responseTypes, label); i >= 0 {
			b.responses[i] = n
		}
	case "response_time":
		switch label {
		case "count":
			b.rtCount = n
		case "sum":
			b.rtSum = v
		default:
			for i, le := range responseTimeBuckets {
				if label == "le_"+strconv.FormatFloat(le, 'f', -1, 64) {
					b.rtBuckets[i] = n
				}
			}
		}
	case "follow_ups_scheduled":
		b.followUpsScheduled = n
	case "calls_completed":
		b.callsCompleted = n
	}
}

// readBusiness runs businessSQL.
func readBusiness(ctx context.Context, pool *pgxpool.Pool) (business, error) {
	var b business
	rows, err := pool.Query(ctx, businessSQL)
	if err != nil {
		return business{}, fmt.Errorf("business metrics: %w", err)
	}
	var (
		name, label string
		v           float64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &label, &v}, func() error {
		b.set(name, label, v)
		return nil
	})
	if err != nil {
		return business{}, fmt.Errorf("business metrics: %w", err)
	}
	return b, nil
}

var (
	createdDesc = prometheus.NewDesc("matching_anfragen_created_total",
		"Therapeutenanfragen created.", nil, nil)
	sentDesc = prometheus.NewDesc("matching_anfragen_sent_total",
		"Therapeutenanfragen sent, by channel: email, or phone_call for those sent by phone without an email. An emailed anfrage that later got a follow-up call stays email.", []string{"channel"}, nil)
	responsesDesc = prometheus.NewDesc("matching_anfragen_responses_total",
		"Responses recorded on therapeutenanfragen, by response type (antworttyp).", []string{"response_type"}, nil)
	responseTimeDesc = prometheus.NewDesc("matching_anfrage_response_time_seconds",
		"Time from sending an anfrage (gesendet_datum) to its response (antwort_datum), over every answered anfrage.", nil, nil)
	followUpsDesc = prometheus.NewDesc("matching_follow_up_calls_scheduled_total",
		"Follow-up phone calls scheduled by the follow-up job (therapeutenanfrage.follow_up_scheduled events).", nil, nil)
	callsCompletedDesc = prometheus.NewDesc("matching_follow_up_calls_completed_total",
		"Phone calls reported completed (phone_call.completed events consumed).", nil, nil)
)

// businessCollector reports the business counters on scrape.
type businessCollector struct{ cache *cached[business] }

func (c businessCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{createdDesc, sentDesc, responsesDesc, responseTimeDesc, followUpsDesc, callsCompletedDesc} {
		ch <- d
	}
}

func (c businessCollector) Collect(ch chan<- prometheus.Metric) {
	b, err := c.cache.get()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(createdDesc, err)
		return
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(createdDesc, b.created)
	counter(sentDesc, b.sentEmail, channelEmail)
	counter(sentDesc, b.sentPhoneCall, channelPhoneCall)
	if b.sentUnknown > 0 {
		counter(sentDesc, b.sentUnknown, unknownLabel)
	}
	for i, t := range responseTypes {
		counter(responsesDesc, b.responses[i], t)
	}
	buckets := make(map[float64]uint64, len(responseTimeBuckets))
	for i, le := range responseTimeBuckets {
		buckets[le] = uint64(b.rtBuckets[i])
	}
	ch <- prometheus.MustNewConstHistogram(responseTimeDesc, uint64(b.rtCount), b.rtSum, buckets)
	counter(followUpsDesc, b.followUpsScheduled)
	counter(callsCompletedDesc, b.callsCompleted)
}

// CollectBusiness reports the business counters, read from the database in
// pool on scrape (one small statement, cached for the cache TTL): anfragen created,
// sent by channel, responses by type, the response time histogram, follow-up
// calls scheduled and completed. They are totals over the database, so
// every process that collects them reports the same values; collect them in
// one function (the anfrage API) to spare the database the repeated scan.
//
// Call it at most once per Metrics; a second call panics.
func (m *Metrics) CollectBusiness(pool *pgxpool.Pool) {
	m.reg.MustRegister(businessCollector{cache: newCached(m, func(ctx context.Context) (business, error) {
		return readBusiness(ctx, pool)
	})})
}
