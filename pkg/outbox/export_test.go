package outbox

// WithQueueLimit sets how many rows may wait for a batch (maxQueued in
// production), so that tests can fill the queue.
func WithQueueLimit(n int) Option {
	return func(p *Publisher) { p.queueLimit = n }
}
