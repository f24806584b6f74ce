package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
)

// A fault is something production does to the service, started and ended
// by the campaign.
type fault struct {
	name string
	// inject starts the fault; the returned function ends it.
	inject func(ctx context.Context, e *env) (recover func() error, err error)
	// hold is how long it lasts, when not Options.Hold.
	hold time.Duration
}

// window is when a fault was in effect: from Start until End (the moment
// everything it stopped answers again).
type window struct {
	Name       string
	Start, End time.Time
	Err        error
}

// faults are the campaign's faults in the order they happen in turn.
func faults(o Options) []fault {
	pg := func(mode string) func(context.Context, *env) (func() error, error) {
		return func(ctx context.Context, e *env) (func() error, error) {
			if err := e.pg.Halt(ctx, mode); err != nil {
				return nil, err
			}
			return func() error { return e.pg.Resume(ctx) }, nil
		}
	}
	fs := []fault{
		{name: "PostgreSQL restarted (fast shutdown)", inject: pg("fast")},
		{name: "PostgreSQL restarted (immediate shutdown)", inject: pg("immediate")},
	}
	if o.SinkHold > o.Hold {
		// Longer than a Kafka-direct consumer's attempts at an
		// unclassified failure last (about 50 s).
		fs = append(fs, fault{name: "PostgreSQL down as long as the sink (immediate shutdown)", inject: pg("immediate"), hold: o.SinkHold})
	}
	return append(fs, []fault{
		{name: "broker restarted", inject: restartBroker},
		{name: "functions killed (SIGKILL) and started again", inject: killFunctions(0)},
		{name: "sink down", inject: sinkDown, hold: o.SinkHold},
		{name: "neighbour services time out", inject: neighboursSlow},
	}...)
}

// restartBroker closes the broker and starts it again on its address and
// data directory.
func restartBroker(_ context.Context, e *env) (func() error, error) {
	return func() error { return e.broker.Restart() }, nil
}

// killFunctions kills, with SIGKILL, a Kafka-direct consumer and an
// HTTP-mode consumer (patient-deleted and therapist-blocked in turn), and
// the relay or the API (in turn); they are started again when the fault
// ends. communication-events is never killed, so that its two processes
// show at the end whether a whole campaign leaked goroutines or memory.
func killFunctions(round int) func(context.Context, *env) (func() error, error) {
	fns := []string{handlers.PatientDeletedName, handlers.TherapistBlockedName}
	var mu sync.Mutex
	return func(ctx context.Context, e *env) (func() error, error) {
		mu.Lock()
		r := round
		round++
		mu.Unlock()
		victims := []*proc{e.proc(label(fns[r%2], modeKafka)), e.proc(label(fns[(r+1)%2], modeHTTP))}
		if r%2 == 0 {
			victims = append(victims, e.proc(api.FunctionName))
		} else {
			victims = append(victims, e.proc(handlers.OutboxRelayName))
		}
		var wg sync.WaitGroup
		for _, p := range victims {
			wg.Go(p.kill)
		}
		wg.Wait()
		return func() error {
			errs := make([]error, len(victims))
			for i, p := range victims {
				wg.Go(func() { errs[i] = p.start(ctx) })
			}
			wg.Wait()
			return errors.Join(errs...)
		}, nil
	}
}

func sinkDown(_ context.Context, e *env) (func() error, error) {
	e.sink.down.Store(true)
	return func() error { e.sink.down.Store(false); return nil }, nil
}

// neighboursSlow makes every fake neighbour service (communication,
// patients, therapists, geocoding) answer after longer than the functions'
// NEIGHBOUR_TIMEOUT (2 s).
func neighboursSlow(_ context.Context, e *env) (func() error, error) {
	e.fake.SetLatency(3 * time.Second)
	return func() error { e.fake.SetLatency(0); return nil }, nil
}

// together injects every fault at once (the database halted immediately,
// the broker restarted, functions killed, the sink down, the neighbours
// slow) and ends them all after hold.
func together(fs []fault) fault {
	return fault{name: "all of them together", inject: func(ctx context.Context, e *env) (func() error, error) {
		var recovers []func() error
		for _, f := range fs[1:] { // the immediate shutdown stands for the restarts
			if f.hold > 0 && strings.HasPrefix(f.name, "PostgreSQL") {
				continue
			}
			r, err := f.inject(ctx, e)
			if err != nil {
				for _, r := range recovers {
					_ = r()
				}
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			recovers = append(recovers, r)
		}
		return func() error {
			// The database first: the functions restarted by the
			// kill wait for it to be ready.
			errs := make([]error, len(recovers))
			var wg sync.WaitGroup
			errs[0] = recovers[0]()
			for i, r := range recovers[1:] {
				wg.Go(func() { errs[i+1] = r() })
			}
			wg.Wait()
			return errors.Join(errs...)
		}, nil
	}}
}

// schedule runs the faults in turn, then together, and repeats that cycle
// until d has passed; each fault holds for its hold, and a quiet pause of
// the same length follows. It returns the windows in order.
func (e *env) schedule(ctx context.Context, d time.Duration, log *slog.Logger) []window {
	fs := faults(e.opts)
	cycle := append(fs, together(fs))
	var out []window
	end := time.Now().Add(d)
	pause := func(t time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(t):
			return true
		}
	}
	if !pause(e.opts.Hold) { // a quiet start: the baseline
		return out
	}
	for i := 0; time.Now().Before(end); i++ {
		f := cycle[i%len(cycle)]
		hold := e.opts.Hold
		if f.hold > 0 {
			hold = f.hold
		}
		if time.Now().Add(2 * hold).After(end) {
			break
		}
		w := window{Name: f.name, Start: time.Now()}
		log.Info("fault", slog.String("fault", f.name), slog.Duration("hold", hold))
		recover, err := f.inject(ctx, e)
		if err == nil {
			pause(hold)
			err = recover()
		}
		w.End, w.Err = time.Now(), err
		if err != nil {
			log.Error("fault failed", slog.String("fault", f.name), slog.String("error", err.Error()))
		}
		out = append(out, w)
		if !pause(hold) {
			break
		}
	}
	return out
}
