package neighbours

import (
	"context"
	"slices"
	"sync"

	"github.com/curavani/matching/pkg/fault"
)

// FetchAll calls get for every distinct id, at most limit at a time, and
// returns the records found. A record that does not exist (fault.NotFound)
// is left out; any other error stops the fetch and is returned (an outage of
// the neighbour is its fault.Unavailable error, answered 503).
func FetchAll[T any](ctx context.Context, ids []int64, limit int, get func(context.Context, int64) (T, error)) (map[int64]T, error) {
	distinct := slices.Clone(ids)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	out := make(map[int64]T, len(distinct))
	if len(distinct) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, max(limit, 1))
	)
	for _, id := range distinct {
		sem <- struct{}{}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec, err := get(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out[id] = rec
			case fault.KindOf(err) == fault.NotFound:
			case firstErr == nil:
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}
