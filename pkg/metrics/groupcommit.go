package metrics

import "github.com/prometheus/client_golang/prometheus"

// batchBuckets are the upper bounds of the group-commit batch sizes: powers
// of two up to HTTP_GROUP_COMMIT_MAX's default and beyond.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

func (m *Metrics) registerGroupCommit() {
	m.groupCommit = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "matching_group_commit_batch_size",
		Help:    "Events applied in one group-commit batch (one transaction) of the CloudEvents POSTed to a function, by source (topic). A batch of 1 is a request that found a lane free.",
		Buckets: batchBuckets,
	}, []string{"source"})
	m.reg.MustRegister(m.groupCommit)
}

// ObserveGroupCommit records the size of one group-commit batch of the
// events POSTed to a function whose source (topic) is source. The source is
// the function's own topic, one per process, so its label is not bounded
// as the consumed events' sources are.
func (m *Metrics) ObserveGroupCommit(source string, size int) {
	if m == nil {
		return
	}
	m.groupCommit.WithLabelValues(sourceLabel(source)).Observe(float64(size))
}
