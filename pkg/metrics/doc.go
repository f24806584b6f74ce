// Package metrics is what a served function exposes on GET /metrics, in the
// Prometheus text format: the seed's "Monitoring and Observability" made
// measurable.
//
// Each process has its own registry (never the global default one) with the
// Go runtime and process collectors and three groups of metrics:
//
//   - Publishing, fed by the outbox publisher's observer hook (Observer) and a
//     backlog collector that asks the outbox on scrape (CollectBacklog).
//   - Consumption, fed by the runtime once per consumed event
//     (ObserveConsumed) and, in Kafka-direct mode, per partition with the
//     consumer lag (SetLag, ForgetLag).
//   - Business, derived from the database on scrape by one SQL statement whose
//     result is cached for a few seconds (CollectBusiness). They are counters
//     of rows, so they survive restarts and scale-to-zero: a new process reports
//     the same totals as the old one.
//
// Label values are bounded whatever the input: event types outside the
// vocabulary of package events are reported as "other" (an empty type as
// "unknown"), and a consumer's source is reduced to its topic, with at most
// maxSources distinct values per process.
//
// The README's "Operating" section tells which metric answers which question,
// with example PromQL.
package metrics
