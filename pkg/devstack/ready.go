package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// waitReady waits until the API and every function answer and every
// consumer group has a member.
func (s *Stack) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitHTTP(ctx, s.APIURL+"/health/readiness", s.apiDone); err != nil {
		return fmt.Errorf("anfrage API not ready: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(Functions))
	for i, name := range Functions {
		wg.Go(func() { errs[i] = s.waitFunction(ctx, s.fns[name]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitFunction waits until f answers its readiness probe and, for a
// consumer, until its group is stable with a member.
func (s *Stack) waitFunction(ctx context.Context, f *function) error {
	if err := waitHTTP(ctx, f.URL()+"/health/readiness", f.done); err != nil {
		return fmt.Errorf("%s not ready: %w", f.name, err)
	}
	if f.group == "" {
		return nil
	}
	if err := waitGroup(ctx, s.Brokers, f.group, f.done); err != nil {
		return fmt.Errorf("%s: consumer group %s: %w", f.name, f.group, err)
	}
	return nil
}

// waitHTTP polls url until it answers 200, ctx ends, or died is closed (the
// server's goroutine returned).
func waitHTTP(ctx context.Context, url string, died <-chan error) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-died:
			return errors.New("it stopped; see its log")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitGroup polls the broker until group is stable with at least one member.
func waitGroup(ctx context.Context, brokers []string, group string, died <-chan error) error {
	admin, err := sarama.NewClusterAdmin(brokers, saramaConfig())
	if err != nil {
		return err
	}
	defer admin.Close()
	for {
		gs, err := admin.DescribeConsumerGroups([]string{group})
		if err == nil && len(gs) == 1 && gs[0].State == "Stable" && len(gs[0].Members) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-died:
			return errors.New("the function stopped; see its log")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
