package metrics

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of Options.
const (
	// DefaultCacheTTL is how long a value read from the database on scrape
	// is reused. Prometheus scrapes every 15–60 s; several scrapers (two
	// Prometheus replicas, a person with curl) within the TTL cost one query.
	DefaultCacheTTL = 10 * time.Second
	// DefaultQueryTimeout bounds one database read on scrape; it stays below
	// Prometheus' default scrape timeout of 10 s, so a slow database costs
	// the business series of one scrape, not the whole scrape.
	DefaultQueryTimeout = 5 * time.Second
)

// Options configure Metrics; the zero value is usable.
type Options struct {
	// CacheTTL is how long database-derived values are reused between
	// scrapes (default DefaultCacheTTL).
	CacheTTL time.Duration
	// QueryTimeout bounds each database read made on scrape (default
	// DefaultQueryTimeout).
	QueryTimeout time.Duration
	// Log receives the errors of a scrape (a failed database read); the
	// other metrics are still served.
	Log *slog.Logger
}

// Metrics holds one process's registry and the metrics fed by the code
// paths it instruments. All its methods are safe for concurrent use. On a
// nil *Metrics the per-event methods (Observer, ObserveConsumed, SetLag,
// ForgetLag) do nothing, so instrumented code needs no check of its own
// when a component is built without metrics (in tests).
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	opts    Options
	// now is the clock of the scrape caches; tests replace it.
	now func() time.Time

	// Publishing.
	publishedByType map[string]publishCounters
	publishDuration prometheus.Observer

	// Consumption.
	consumed        *prometheus.CounterVec
	processDuration *prometheus.HistogramVec
	lag             *prometheus.GaugeVec
	groupCommit     *prometheus.HistogramVec
	consumers       sync.Map // consumerKey → *consumerSeries
	lastConsumer    atomic.Pointer[consumerSeries]
	// sourcesMu guards sources (the distinct source labels) and
	// consumerKeys (the number of memoised keys in consumers).
	sourcesMu    sync.Mutex
	sources      map[string]bool
	consumerKeys int
}

// New returns the metrics of one process with the Go and process
// collectors registered. Wire it with Observer, ObserveConsumed, SetLag,
// CollectBacklog and CollectBusiness, and serve Handler on GET /metrics.
func New(opts Options) *Metrics {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		opts:    opts,
		now:     time.Now,
		sources: map[string]bool{},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.registerPublishing()
	m.registerConsumption()
	m.registerGroupCommit()
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failing collector (the database is down) must not hide the
		// others: its series are left out, the error is logged and
		// counted in promhttp_metric_handler_errors_total{cause="gathering"}.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(opts.Log.Handler(), slog.LevelError),
		Registry:      m.reg,
	})
	return m
}

// Handler serves the registry in the Prometheus exposition format; mount it
// on GET /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// latencyBuckets are the upper bounds, in seconds, of the publish and
// processing latency histograms: from a millisecond (a duplicate, an ignored
// type) to ten seconds (a database under lock contention). The inline
// publish gives up after two seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
