package store

// DueFollowUpsPageSQL lets the tests and the benchmark EXPLAIN the very
// query DueFollowUps runs.
const DueFollowUpsPageSQL = dueFollowUpsPage
