package metrics

import (
	"context"
	"sync"
	"time"
)

// cached is a value read from the database on scrape and reused for the
// cache TTL. One read runs at a time: a scrape arriving during a read waits
// for it and takes its result. A failed read is not cached; the next scrape
// tries again.
type cached[T any] struct {
	m     *Metrics
	fetch func(context.Context) (T, error)

	mu    sync.Mutex
	val   T
	at    time.Time
	valid bool
}

func newCached[T any](m *Metrics, fetch func(context.Context) (T, error)) *cached[T] {
	return &cached[T]{m: m, fetch: fetch}
}

// get returns the cached value while it is younger than the TTL, else reads
// it again within the query timeout. A collector has no context of its own:
// the timeout is what bounds the scrape.
func (c *cached[T]) get() (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.m.now()
	if c.valid && now.Sub(c.at) < c.m.opts.CacheTTL {
		return c.val, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.QueryTimeout)
	defer cancel()
	v, err := c.fetch(ctx)
	if err != nil {
		c.valid = false
		return v, err
	}
	c.val, c.at, c.valid = v, now, true
	return v, nil
}
