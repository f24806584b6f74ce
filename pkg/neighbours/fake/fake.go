// Package fake serves the four neighbour services matching calls — patient,
// therapist, communication and geocoding — in memory, with the reference
// services' paths, JSON field names, status codes and error messages. Tests put
// it on httptest (Start); the local stack serves it on a port (ListenAndServe).
// All four base URLs point at the same handler.
//
// Besides the endpoints matching uses it serves the create endpoints
// (POST /api/patients, POST /api/therapists), so data can be seeded over HTTP
// exactly as the reference's own tests do, or through the Go API (AddPatient,
// AddTherapist). It records the emails and phone calls it receives, counts
// requests per endpoint, and can be slowed down (SetLatency), made to fail
// (FailNext) or taken down (SetDown), and it can announce the changes made
// to patients and therapists over HTTP as their services publish them
// (OnChange). A Fake is safe for concurrent use.
package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/neighbours"
)

// The services, for SetDown.
const (
	PatientService       = "patient"
	TherapistService     = "therapist"
	CommunicationService = "communication"
	GeocodingService     = "geocoding"
)

// Endpoint names one route; its value is the route pattern. Count and
// FailNext take it.
type Endpoint string

// The routes the fake serves.
const (
	CreatePatient     Endpoint = "POST /api/patients"
	GetPatient        Endpoint = "GET /api/patients/{id}"
	UpdatePatient     Endpoint = "PUT /api/patients/{id}"
	DeletePatient     Endpoint = "DELETE /api/patients/{id}"
	CreateTherapist   Endpoint = "POST /api/therapists"
	ListTherapists    Endpoint = "GET /api/therapists"
	GetTherapist      Endpoint = "GET /api/therapists/{id}"
	UpdateTherapist   Endpoint = "PUT /api/therapists/{id}"
	DeleteTherapist   Endpoint = "DELETE /api/therapists/{id}"
	CreateEmail       Endpoint = "POST /api/emails"
	ListEmails        Endpoint = "GET /api/emails"
	GetEmail          Endpoint = "GET /api/emails/{id}"
	UpdateEmail       Endpoint = "PUT /api/emails/{id}"
	CreatePhoneCall   Endpoint = "POST /api/phone-calls"
	ListPhoneCalls    Endpoint = "GET /api/phone-calls"
	GetPhoneCall      Endpoint = "GET /api/phone-calls/{id}"
	UpdatePhoneCall   Endpoint = "PUT /api/phone-calls/{id}"
	CalculateDistance Endpoint = "GET /api/calculate-distance"
)

// Received is one email or phone call the fake accepted.
type Received struct {
	ID     int64          // the id the fake assigned
	Body   map[string]any // the request body as decoded JSON (numbers are float64)
	Raw    []byte         // the request body exactly as sent
	Record map[string]any // the stored record now, as GET would return it
}

// Decode unmarshals the raw request body into v (for example a neighbours.Email).
func (r Received) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// Fake is the in-memory state of the four services.
type Fake struct {
	mu         sync.Mutex
	patients   map[int64]*record
	therapists map[int64]*record
	emails     map[int64]*record
	calls      map[int64]*record
	// callsByAnfrage lists the ids of the calls of each
	// therapeutenanfrage_id in ascending order, so that the follow-up job's
	// GET /api/phone-calls?therapeutenanfrage_id= costs the same with ten
	// or a million calls stored. putCall and updatePhoneCall keep it.
	callsByAnfrage map[int64][]int64
	emailReqs      []received
	callReqs       []received
	next           map[string]int64 // last id per kind
	distances      map[[2]string]distance
	queries        []neighbours.DistanceQuery
	latency        time.Duration
	serviceLatency map[string]time.Duration
	failures       map[Endpoint][]failure
	down           map[string]bool
	counts         map[Endpoint]int
	bareLists      bool
	now            func() time.Time
	onChange       func(Change)
}

type failure struct {
	left   int
	status int
}

// New returns an empty fake.
func New() *Fake {
	return &Fake{
		patients:       map[int64]*record{},
		therapists:     map[int64]*record{},
		emails:         map[int64]*record{},
		calls:          map[int64]*record{},
		callsByAnfrage: map[int64][]int64{},
		next:           map[string]int64{},
		distances:      map[[2]string]distance{},
		serviceLatency: map[string]time.Duration{},
		failures:       map[Endpoint][]failure{},
		down:           map[string]bool{},
		counts:         map[Endpoint]int{},
		now:            time.Now,
	}
}

// TB is the part of testing.TB that Start needs.
type TB interface {
	Helper()
	Cleanup(func())
}

// Start serves a new fake on an httptest server that is closed when the test
// ends, and returns the neighbour configuration pointing all four services at
// it, with a 5 s timeout.
func Start(t TB) (*Fake, config.Neighbours) {
	t.Helper()
	f := New()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, config.Neighbours{
		PatientURL:       srv.URL,
		TherapistURL:     srv.URL,
		CommunicationURL: srv.URL,
		GeocodingURL:     srv.URL,
		Timeout:          5 * time.Second,
	}
}

// ListenAndServe serves the fake on addr (host:port) until ctx ends, then
// shuts the server down. It returns nil after a shutdown caused by ctx.
func (f *Fake) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake neighbours: %w", err)
	}
	return f.Serve(ctx, ln)
}

// Serve serves the fake on ln until ctx ends.
func (f *Fake) Serve(ctx context.Context, ln net.Listener) error {
	// The same bounds as the functions' servers (config.HTTP's defaults).
	srv := config.HTTP{}.Server(f.Handler())
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// SetLatency delays every answer by d (0 turns it off), as a real service's
// round trip would. A request whose client gives up stops waiting.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// SetServiceLatency delays every answer of one service (PatientService, …)
// by d, in place of SetLatency's; a negative d removes the service's own
// latency again. A slow communication service beside quick others is how
// the API is measured while sends wait for it.
func (f *Fake) SetServiceLatency(service string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d < 0 {
		delete(f.serviceLatency, service)
		return
	}
	f.serviceLatency[service] = d
}

// FailNext makes the next n requests to ep fail with status and a JSON
// {"message": …} body. Status 0 drops the connection without an answer.
// Calls queue up: FailNext(ep, 1, 500) then FailNext(ep, 1, 404) fails the
// next request with 500 and the one after with 404.
func (f *Fake) FailNext(ep Endpoint, n int, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > 0 {
		f.failures[ep] = append(f.failures[ep], failure{left: n, status: status})
	}
}

// SetDown takes a service (PatientService, …) down: every request to it is
// answered 503 until it is set up again.
func (f *Fake) SetDown(service string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[service] = down
}

// SetBareLists makes the list endpoints answer a bare JSON array, as some
// versions of the reference services did, instead of {data, page, limit, total}.
func (f *Fake) SetBareLists(bare bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bareLists = bare
}

// SetNow replaces the clock used for timestamps and default dates.
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// Count returns how many requests reached ep, failed ones included.
func (f *Fake) Count(ep Endpoint) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[ep]
}

// Counts returns the request count of every endpoint that was called.
func (f *Fake) Counts() map[Endpoint]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Endpoint]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// ResetCounts sets every request count to zero.
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts = map[Endpoint]int{}
}
