package metrics

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/curavani/matching/pkg/store"
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
// time histogram: 1 h, 6 h, 1, 2, 3, 7, 14 and 30 days. The business query
// counts exactly these (le_1h … le_30d); change both together.
var responseTimeBuckets = []float64{3600, 21600, 86400, 172800, 259200, 604800, 1209600, 2592000}

// businessSQL reads every business counter in one statement, one sequential
// scan of therapeutenanfrage plus two index-only counts.
//
//   - Sent by channel: an anfrage sent by email keeps the channel email when
//     the follow-up job later gives it a phone_call_id; phone_call is an
//     anfrage sent by phone (phone_call_id and no email_id). An anfrage marked
//     sent with neither id (possible in the reference's data) is counted as
//     channel unknown.
//   - The response time rt is antwort_datum − gesendet_datum (both naive
//     UTC) of every anfrage that has both, negative values as 0; it is NULL
//     for the others, which count(rt), sum and the FILTERs skip. The
//     histogram's buckets are cumulative (rt <= le).
//   - OFFSET 0 keeps the subquery from being flattened: without it the
//     planner substitutes the rt expression into each of its ten uses, which
//     made the statement 2.5 times slower on a million anfragen.
//   - Follow-up calls scheduled are the outbox rows of that type (the outbox
//     keeps published rows); calls completed are the phone_call.completed
//     events the communication consumer recorded in processed_events. Both
//     are counted through the partial indexes of migration 00005: without
//     them each scrape would read the whole outbox, by far the largest table.
const businessSQL = `
SELECT
    count(*)                                                                                    AS created,
    count(*) FILTER (WHERE gesendet_datum IS NOT NULL AND email_id IS NOT NULL)                 AS sent_email,
    count(*) FILTER (WHERE gesendet_datum IS NOT NULL AND email_id IS NULL
                       AND phone_call_id IS NOT NULL)                                           AS sent_phone_call,
    count(*) FILTER (WHERE gesendet_datum IS NOT NULL AND email_id IS NULL AND phone_call_id IS NULL) AS sent_unknown,
    count(*) FILTER (WHERE antworttyp = 'vollstaendige_Annahme')                                AS full_acceptance,
    count(*) FILTER (WHERE antworttyp = 'teilweise_Annahme')                                    AS partial_acceptance,
    count(*) FILTER (WHERE antworttyp = 'vollstaendige_Ablehnung')                              AS full_rejection,
    count(*) FILTER (WHERE antworttyp = 'keine_Antwort')                                        AS no_response,
    count(rt)                                                                                   AS rt_count,
    COALESCE(sum(rt), 0)                                                                        AS rt_sum,
    count(*) FILTER (WHERE rt <= 3600)                                                          AS le_1h,
    count(*) FILTER (WHERE rt <= 21600)                                                         AS le_6h,
    count(*) FILTER (WHERE rt <= 86400)                                                         AS le_1d,
    count(*) FILTER (WHERE rt <= 172800)                                                        AS le_2d,
    count(*) FILTER (WHERE rt <= 259200)                                                        AS le_3d,
    count(*) FILTER (WHERE rt <= 604800)                                                        AS le_7d,
    count(*) FILTER (WHERE rt <= 1209600)                                                       AS le_14d,
    count(*) FILTER (WHERE rt <= 2592000)                                                       AS le_30d,
    (SELECT count(*) FROM matching_service.outbox
     WHERE event_type = 'therapeutenanfrage.follow_up_scheduled')                               AS follow_ups_scheduled,
    (SELECT count(*) FROM matching_service.processed_events
     WHERE event_type = 'phone_call.completed')                                                 AS calls_completed
FROM (
    SELECT gesendet_datum, email_id, phone_call_id, antworttyp,
           CASE WHEN gesendet_datum IS NOT NULL AND antwort_datum IS NOT NULL
                THEN GREATEST(date_part('epoch', antwort_datum - gesendet_datum), 0)
           END AS rt
    FROM matching_service.therapeutenanfrage
    OFFSET 0
) a`

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

// readBusiness runs businessSQL. JIT compilation is switched off for it: on
// a million anfragen the estimated cost (about 124,000) passes
// jit_above_cost (100,000), and compiling the aggregates cost 15–60 ms per
// scrape without making this simple scan any faster (half a second in a
// parallel plan, where every worker compiles). SET LOCAL needs the
// transaction.
func readBusiness(ctx context.Context, pool *pgxpool.Pool) (business, error) {
	var b business
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, businessSQL).Scan(
			&b.created, &b.sentEmail, &b.sentPhoneCall, &b.sentUnknown,
			&b.responses[0], &b.responses[1], &b.responses[2], &b.responses[3],
			&b.rtCount, &b.rtSum,
			&b.rtBuckets[0], &b.rtBuckets[1], &b.rtBuckets[2], &b.rtBuckets[3],
			&b.rtBuckets[4], &b.rtBuckets[5], &b.rtBuckets[6], &b.rtBuckets[7],
			&b.followUpsScheduled, &b.callsCompleted)
	})
	if err != nil {
		return business{}, fmt.Errorf("business metrics: %w", err)
	}
	return b, nil
}

var (
	createdDesc = prometheus.NewDesc("matching_anfragen_created_total",
		"Therapeutenanfragen created (rows of therapeutenanfrage).", nil, nil)
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
// pool on scrape (one statement, cached for the cache TTL): anfragen created,
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
