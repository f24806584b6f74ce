// Package loadtest drives the anfrage API with many concurrent clients, each
// making a mix of the reads and writes clerks and other services make (lists
// and details of searches and anfragen, creating and changing searches,
// composing, sending and answering anfragen, the history and ?stand=), and
// reports per endpoint how each request was answered and how long it took,
// together with the database connections and the memory of the process
// while it ran (Monitor).
//
// Every answer is one of: a success (2xx); a refusal the scenario expects
// (a 4xx it names with its reason, e.g. 400 "Anfrage already sent" when two
// clients send the same anfrage); or an error (a 5xx, a transport failure,
// a timeout, or a status the scenario does not expect). make load
// (cmd/matching-load) runs it against the whole local stack; a short run is
// a test of this package. Nothing in production imports it.
package loadtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Config is one run.
type Config struct {
	// BaseURL is the API's base URL without /api.
	BaseURL string
	// Token is sent as "Authorization: Bearer …" with every request ("" for
	// an open API).
	Token string
	// Clients is how many clients send requests at once, each waiting for
	// its answer before it sends the next.
	Clients int
	// Duration is how long the clients keep sending.
	Duration time.Duration
	// Data is who may be asked for (Populate).
	Data Data
	// HTTP is the client to use; nil makes one that keeps a connection per
	// client. A test passes one that checks every exchange against the
	// OpenAPI document.
	HTTP *http.Client
	// RequestTimeout bounds one request (default 30 s, Knative's timeout of
	// the anfrage-api Service); a request that takes longer is an error.
	RequestTimeout time.Duration
}

// Run sends requests from cfg.Clients clients for cfg.Duration (or until ctx
// ends) and returns what they were answered.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Clients < 1 || cfg.Duration <= 0 {
		return nil, fmt.Errorf("loadtest: clients (%d) and duration (%s) must be positive", cfg.Clients, cfg.Duration)
	}
	if len(cfg.Data.Patients) == 0 || len(cfg.Data.Therapists) == 0 {
		return nil, fmt.Errorf("loadtest: no patients or therapists to ask for (Populate)")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{
			MaxIdleConns:        cfg.Clients,
			MaxIdleConnsPerHost: cfg.Clients,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	st := newState(cfg.Data)
	res := newResult()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := time.Now()
	for i := range cfg.Clients {
		c := &client{cfg: &cfg, state: st, rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), res: newResult()}
		wg.Go(func() {
			for ctx.Err() == nil {
				c.one(ctx)
			}
			mu.Lock()
			res.merge(c.res)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	// The clients are gone: their kept-alive connections (and the server's
	// goroutines serving them) should not count as what the stack keeps.
	cfg.HTTP.CloseIdleConnections()
	res.Clients = cfg.Clients
	return res, nil
}

// client is one of the concurrent clients: its own random source and its
// own tallies, merged when the run ends.
type client struct {
	cfg   *Config
	state *state
	rng   *rand.Rand
	res   *Result
}

// one makes one request of the mix and records its answer. A request cut
// off by the end of the run is not counted.
func (c *client) one(ctx context.Context) {
	call := c.pick()
	var body io.Reader
	if call.body != nil {
		body = call.body
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, call.method, c.cfg.BaseURL+call.path, body)
	if err != nil {
		c.res.record(call.endpoint, outcome{err: err})
		return
	}
	if call.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Token != "" && !call.anonymous {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	begin := time.Now()
	resp, err := c.cfg.HTTP.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	took := time.Since(begin)
	if err != nil {
		if ctx.Err() != nil {
			return // the run ended while the request was under way
		}
		c.res.record(call.endpoint, outcome{err: err, took: took})
		return
	}
	o := outcome{status: resp.StatusCode, took: took, body: raw}
	if reason, ok := call.expected[resp.StatusCode]; ok {
		o.expected = reason
	}
	if resp.StatusCode/100 == 2 && call.then != nil {
		call.then(raw)
	}
	c.res.record(call.endpoint, o)
}
