package runtime

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/store"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413.
const MaxBodyBytes = 1 << 20

// ServiceName is the service field of GET /health (the reference's shape).
const ServiceName = "matching-service"

// OutcomeHeader carries the outcome (processed, duplicate, ignored, rejected,
// failed) of an event on the response, for people and tests reading it.
const OutcomeHeader = "X-Event-Outcome" // in canonical form

// outcomeValues are the OutcomeHeader values, allocated once.
var outcomeValues = map[events.Outcome][]string{}

func init() {
	for _, o := range []events.Outcome{events.Processed, events.Duplicate, events.Ignored, events.Rejected, events.Failed, events.Exhausted} {
		outcomeValues[o] = []string{string(o)}
	}
}

// ServerOptions configure the HTTP side of a function.
type ServerOptions struct {
	// Handler receives the CloudEvents POSTed to the service.
	Handler Handler
	// Trigger, used instead of Handler, runs for every POST whatever its
	// body (a PingSource tick): 200 when it returns nil, else a 5xx.
	Trigger func(ctx context.Context) error
	// Ready reports whether the function can do its work (the database
	// answers); GET /health/readiness answers 503 while it fails, with the
	// error's text, or a *fault.Error's message only, as its "error": it
	// must say nothing a caller should not read (Run's Ready turns the
	// database's error into "Database temporarily unavailable").
	Ready func(ctx context.Context) error
	// Mount, used instead of Handler and Trigger, serves every request that
	// no other route takes (a function of plain HTTP routes: the anfrage
	// API). It is mounted at "/", next to the health endpoints and
	// GET /metrics.
	Mount http.Handler
	// Routes adds handlers by http.ServeMux pattern, e.g. "GET /debug". A
	// pattern given here replaces the server's own (GET /metrics).
	Routes map[string]http.Handler
	// Metrics, if set, counts and times every event Handler receives (also
	// one rejected before it reached the handler, with an empty type) and
	// is served on GET /metrics.
	Metrics *metrics.Metrics
	// Source is the consumption metrics' source label of the events POSTed
	// here: the function's topic (patient-events, …).
	Source string
	// DrainTimeout bounds how long Serve waits for in-flight requests after
	// shutdown began (default 30s).
	DrainTimeout time.Duration
	// GroupCommit, when enabled and Handler is an *inbox.Processor, applies
	// the events of concurrent requests together (see groupCommit); a type
	// the processor has no route for is then acknowledged as ignored at
	// once, without waiting for a batch or touching the database. Lanes 0
	// is one lane (Run gives it DATABASE_MAX_CONNS).
	GroupCommit config.GroupCommit
	// Timeouts bound reading a request and keeping an idle connection
	// (HTTP_READ_HEADER_TIMEOUT, HTTP_READ_TIMEOUT, HTTP_IDLE_TIMEOUT);
	// zero fields take config.HTTP's defaults.
	Timeouts config.HTTP
	Log      *slog.Logger
}

// Server is the HTTP server of one function: CloudEvents on POST /, the
// health endpoints, and any extra routes.
type Server struct {
	opts     ServerOptions
	mux      *http.ServeMux
	log      *slog.Logger
	draining atomic.Bool
	// group, if set, applies the events of Handler (an *inbox.Processor)
	// in batches; routed reports whether it has a route for a type.
	group  *groupCommit
	routed func(eventType string) bool
}

// NewServer builds the routes of a function's HTTP server.
func NewServer(opts ServerOptions) *Server {
	s := &Server{opts: opts, mux: http.NewServeMux(), log: opts.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.DrainTimeout <= 0 {
		s.opts.DrainTimeout = 30 * time.Second
	}
	if p, ok := opts.Handler.(*inbox.Processor); ok && opts.GroupCommit.Enabled() {
		s.group = &groupCommit{apply: processBatch(p), max: opts.GroupCommit.Max, lanes: max(opts.GroupCommit.Lanes, 1),
			observe: func(n int) { opts.Metrics.ObserveGroupCommit(opts.Source, n) }}
		s.routed = func(t string) bool {
			_, ok := p.Routes[t]
			_, prepared := p.Prepared[t]
			return ok || prepared
		}
	}
	// "POST /" matches every path: a Trigger's subscriber URI may carry one.
	switch {
	case opts.Mount != nil:
		s.mux.Handle("/", opts.Mount)
	case opts.Trigger != nil:
		s.mux.HandleFunc("POST /", s.serveTrigger)
	default:
		s.mux.HandleFunc("POST /", s.serveEvent)
	}
	own := map[string]http.Handler{
		"GET /health":           http.HandlerFunc(s.serveHealth),
		"GET /health/readiness": http.HandlerFunc(s.serveReadiness),
		"GET /health/liveness":  http.HandlerFunc(s.serveLiveness),
	}
	if opts.Metrics != nil {
		own["GET /metrics"] = opts.Metrics.Handler()
	}
	for pattern, h := range opts.Routes {
		own[pattern] = h
	}
	for pattern, h := range own {
		s.mux.Handle(pattern, h)
	}
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers requests on ln until ctx is done, then stops accepting
// connections, reports not-ready, waits for in-flight requests to finish (at
// most DrainTimeout) and returns. A request in flight keeps its own context:
// shutting down never aborts an event half-way.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.opts.Timeouts.Server(s)
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.opts.DrainTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc // http.ErrServerClosed once the listener is closed
	return err
}

// serveEvent decodes a CloudEvent in binary or structured mode, hands it to
// the handler and answers with the status of its outcome.
func (s *Server) serveEvent(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The body is read once, by the decoding below, through the limit.
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	msg := cehttp.NewMessage(r.Header, body)
	switch msg.ReadEncoding() {
	case binding.EncodingBinary, binding.EncodingStructured:
	case binding.EncodingBatch:
		s.rejectRequest(w, r, start, fault.Malformedf("batched CloudEvents are not supported"))
		return
	default:
		s.rejectRequest(w, r, start, fault.Malformedf("not a CloudEvent: expected ce-* headers (binary mode) or application/cloudevents+json (structured mode)"))
		return
	}
	e, err := binding.ToEvent(r.Context(), msg)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		s.rejectRequest(w, r, start, fault.ReadingBody(err, "1 MiB", "malformed CloudEvent: "+err.Error()))
		return
	}

	if ct, ok := mediaType(e.DataContentType()); ok && ct != e.DataContentType() {
		e.SetDataContentType(ct) // as a record's (see mediaType)
	}
	in, outcome, err := s.handle(r.Context(), *e)
	took := time.Since(start)
	s.opts.Metrics.ObserveConsumed(s.opts.Source, in.Type, outcome, took)
	code := status(outcome, err)
	if level := logLevel(err); s.log.Enabled(r.Context(), level) {
		attrs := []any{slog.Any("", in), slog.String("outcome", string(outcome)), slog.Int("status", code),
			slog.Duration("duration", took)}
		if err != nil {
			attrs = append(attrs, slog.String("kind", fault.KindOf(err).String()), slog.String("error", err.Error()))
		}
		s.log.Log(r.Context(), level, eventMessage(err), attrs...)
	}
	w.Header()[OutcomeHeader] = outcomeValues[outcome]
	if code >= 300 {
		writeText(w, code, reason(err))
		return
	}
	w.WriteHeader(code)
}

// handle hands e to the handler: with group commit, decoded and stamped
// here (as inbox.Processor.Handle does) and applied in the next batch, or
// acknowledged as ignored at once when no route takes its type.
func (s *Server) handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	if s.group == nil {
		return s.opts.Handler.Handle(ctx, e)
	}
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	if !s.routed(in.Type) {
		return in, events.Ignored, nil
	}
	in.At = time.Now().UTC().Truncate(time.Microsecond)
	res := s.group.do(ctx, in)
	return in, res.Outcome, res.Err
}

// logLevel is DEBUG for an event handled, ERROR for one that was not.
func logLevel(err error) slog.Level {
	if err != nil {
		return slog.LevelError
	}
	return slog.LevelDebug
}

func eventMessage(err error) string {
	if err != nil {
		return "event not processed"
	}
	return "event handled"
}

// rejectRequest answers a request that is not a usable CloudEvent with the
// status of err's kind. It is counted as a rejected event of unknown type;
// the log line carries what the binary-mode headers say of its type, id and
// key.
func (s *Server) rejectRequest(w http.ResponseWriter, r *http.Request, start time.Time, err error) {
	s.opts.Metrics.ObserveConsumed(s.opts.Source, "", events.Rejected, time.Since(start))
	code, msg := fault.EventStatus(err), reason(err)
	sent := events.Inbound{Type: r.Header.Get("Ce-Type"), ID: r.Header.Get("Ce-Id"), Key: r.Header.Get("Ce-Partitionkey")}
	s.log.Error("request rejected", slog.Any("", sent), slog.Int("status", code), slog.String("error", msg))
	w.Header()[OutcomeHeader] = outcomeValues[events.Rejected]
	writeText(w, code, msg)
}

func (s *Server) serveTrigger(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err := s.opts.Trigger(r.Context()); err != nil {
		err = store.Classify(r.Context(), err)
		s.log.Error("trigger failed", slog.String("kind", fault.KindOf(err).String()), slog.String("error", err.Error()))
		writeText(w, fault.EventStatus(err), reason(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "service": ServiceName})
}

func (s *Server) serveReadiness(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			// A classified error shows its message only (Run's Ready
			// classifies the database's, whose own text names the host
			// and user); the rest is the function's own words.
			msg := oneLine(err.Error())
			if fe := fault.As(err); fe != nil {
				msg = reason(err)
			}
			s.log.Warn("not ready", slog.String("error", err.Error()))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": msg})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) serveLiveness(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
