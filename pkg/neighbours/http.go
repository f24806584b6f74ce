package neighbours

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/fault"
)

// Clients are the HTTP implementations of the four interfaces, built from
// config.Neighbours. They share one http.Client, so connections to a service
// are reused across the concurrent calls of the composition algorithm.
type Clients struct {
	Patients      *PatientClient
	Therapists    *TherapistClient
	Communication *CommunicationClient
	Distances     *GeocodingClient
}

// NewClients builds the four clients. Every request gets its own deadline of
// cfg.Timeout (NEIGHBOUR_TIMEOUT) on top of the caller's context. A client
// whose base URL is empty answers every call with a fault.Unavailable error;
// functions that need a service check its variable at start (Neighbours.Require).
func NewClients(cfg config.Neighbours) *Clients {
	hc := newHTTPClient()
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	svc := func(name, env, base string) service {
		return service{name: name, env: env, base: strings.TrimRight(base, "/"), hc: hc, timeout: timeout}
	}
	return &Clients{
		Patients:      &PatientClient{svc("Patient", "PATIENT_SERVICE_URL", cfg.PatientURL)},
		Therapists:    &TherapistClient{svc("Therapist", "THERAPIST_SERVICE_URL", cfg.TherapistURL)},
		Communication: &CommunicationClient{svc("Communication", "COMMUNICATION_SERVICE_URL", cfg.CommunicationURL)},
		Distances:     &GeocodingClient{svc("Geocoding", "GEOCODING_SERVICE_URL", cfg.GeocodingURL)},
	}
}

// newHTTPClient returns the shared client. It has no overall Timeout: each
// request carries a context deadline instead, so a caller's shorter deadline
// wins. The idle pool is sized for the composition algorithm's concurrent
// calls (tens at a time against one host); MaxConnsPerHost bounds what a
// runaway caller can open against one neighbour.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		MaxConnsPerHost:       128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// maxBody bounds a response body; a page of 1000 therapist records is about 2 MB.
const maxBody = 32 << 20

// pageLimit is what the clients ask for per page: the reference's maximum.
const pageLimit = 1000

// maxPages stops a list that never ends (a service ignoring page); 10,000
// pages of 1000 is far beyond any real list.
const maxPages = 10000

// StatusError is a 4xx answer (other than a record's 404) from a neighbour:
// the request was rejected, and sending it again will not help. Message is the
// service's own "message" (or "error") text. It carries no fault kind, so it
// answers 500 through fault.Status: it is our bug or a contract change, not the
// API caller's.
type StatusError struct {
	Service string // Patient, Therapist, Communication, Geocoding
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s service answered %d: %s", e.Service, e.Status, e.Message)
}

// service is what the four clients share: one base URL and the transport.
type service struct {
	name    string // Patient, Therapist, …: starts the error messages
	env     string // the variable naming the base URL, for "not configured"
	base    string
	hc      *http.Client
	timeout time.Duration
}

// unavailable is the error for an outage: no answer in time, no connection,
// a 5xx, or an answer that cannot be read.
func (s service) unavailable(cause error) error {
	return fault.Unavailablef("%s service unavailable", s.name).Wrap(cause)
}

// do sends one request and returns the status and body of any answer the
// service gave. Transport failures, timeouts and 5xx answers come back as
// fault.Unavailable; the caller maps the remaining statuses.
func (s service) do(ctx context.Context, method, path string, query url.Values, body any) (int, []byte, error) {
	if s.base == "" {
		return 0, nil, s.unavailable(fmt.Errorf("%s is not set", s.env))
	}
	u := s.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("%s service: encode request: %w", s.name, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, s.unavailable(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, s.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, s.transportError(ctx, err)
	}
	if len(data) > maxBody {
		return 0, nil, s.unavailable(fmt.Errorf("%s %s: response larger than %d bytes", method, path, maxBody))
	}
	if resp.StatusCode >= 500 {
		return 0, nil, s.unavailable(fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, message(data)))
	}
	return resp.StatusCode, data, nil
}

// transportError keeps a caller's own cancellation recognisable (it is not an
// outage of the neighbour); everything else, deadlines included, is one.
func (s service) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s service: %w: %w", s.name, context.Canceled, err)
	}
	return s.unavailable(err)
}

// rejected is the error for a 4xx that has no more specific meaning.
func (s service) rejected(status int, data []byte) error {
	return &StatusError{Service: s.name, Status: status, Message: message(data)}
}

// message extracts the "message" (a string, or reqparse's object of field
// messages) or "error" of an error body, else the body itself, shortened.
func message(data []byte) string {
	var body struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		var s string
		if json.Unmarshal(body.Message, &s) == nil && s != "" {
			return s
		}
		if len(body.Message) > 0 && string(body.Message) != "null" {
			return string(body.Message)
		}
		if body.Error != "" {
			return body.Error
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// getRecord reads one record: 200 gives its body, 404 a NotFound error with
// notFound as the message.
func (s service) getRecord(ctx context.Context, path, notFound string) ([]byte, error) {
	status, data, err := s.do(ctx, http.MethodGet, path, nil, nil)
	switch {
	case err != nil:
		return nil, err
	case status == http.StatusNotFound:
		return nil, fault.NotFoundf("%s", notFound)
	case status != http.StatusOK:
		return nil, s.rejected(status, data)
	}
	return data, nil
}

// list reads every page of a list endpoint, in the service's order. It accepts
// both shapes the reference services used: {data, page, limit, total} and a
// bare array. Records repeated on a later page (the list shifted while paging)
// are kept once.
func (s service) list(ctx context.Context, path string, query url.Values) ([]json.RawMessage, error) {
	var out []json.RawMessage
	seen := make(map[int64]bool)
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	for page := 1; page <= maxPages; page++ {
		q.Set("page", strconv.Itoa(page))
		q.Set("limit", strconv.Itoa(pageLimit))
		status, data, err := s.do(ctx, http.MethodGet, path, q, nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, s.rejected(status, data)
		}
		items, total, limit, err := decodePage(data)
		if err != nil {
			return nil, s.unavailable(fmt.Errorf("GET %s page %d: %w", path, page, err))
		}
		added := 0
		for _, it := range items {
			var rec struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(it, &rec); err != nil {
				return nil, s.unavailable(fmt.Errorf("GET %s page %d: %w", path, page, err))
			}
			if seen[rec.ID] {
				continue
			}
			seen[rec.ID] = true
			out = append(out, it)
			added++
		}
		if limit <= 0 {
			limit = pageLimit
		}
		if added == 0 || len(items) < limit || (total >= 0 && len(out) >= total) {
			return out, nil
		}
	}
	return nil, s.unavailable(fmt.Errorf("GET %s: more than %d pages", path, maxPages))
}

// decodePage reads one page. total and limit are -1 and 0 when the service
// sent a bare array.
func decodePage(data []byte) (items []json.RawMessage, total, limit int, err error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		err = json.Unmarshal(data, &items)
		return items, -1, 0, err
	}
	var page struct {
		Data  []json.RawMessage `json:"data"`
		Limit *int              `json:"limit"`
		Total *int              `json:"total"`
	}
	if err = json.Unmarshal(data, &page); err != nil {
		return nil, 0, 0, err
	}
	total, limit = -1, 0
	if page.Total != nil {
		total = *page.Total
	}
	if page.Limit != nil {
		limit = *page.Limit
	}
	return page.Data, total, limit, nil
}

// PatientClient reads the patient service (PATIENT_SERVICE_URL).
type PatientClient struct{ s service }

var _ Patients = (*PatientClient)(nil)

// Patient reads GET /api/patients/{id}.
func (c *PatientClient) Patient(ctx context.Context, id int64) (Patient, error) {
	data, err := c.s.getRecord(ctx, fmt.Sprintf("/api/patients/%d", id), fmt.Sprintf("Patient %d not found", id))
	if err != nil {
		return Patient{}, err
	}
	var p Patient
	if err := json.Unmarshal(data, &p); err != nil {
		return Patient{}, c.s.unavailable(fmt.Errorf("decode patient %d: %w", id, err))
	}
	p.Raw = json.RawMessage(data)
	return p, nil
}

// TherapistClient reads and updates the therapist service (THERAPIST_SERVICE_URL).
type TherapistClient struct{ s service }

var _ Therapists = (*TherapistClient)(nil)

// Therapist reads GET /api/therapists/{id}.
func (c *TherapistClient) Therapist(ctx context.Context, id int64) (Therapist, error) {
	data, err := c.s.getRecord(ctx, fmt.Sprintf("/api/therapists/%d", id), fmt.Sprintf("Therapist %d not found", id))
	if err != nil {
		return Therapist{}, err
	}
	return c.decode(data)
}

func (c *TherapistClient) decode(data []byte) (Therapist, error) {
	var t Therapist
	if err := json.Unmarshal(data, &t); err != nil {
		return Therapist{}, c.s.unavailable(fmt.Errorf("decode therapist: %w", err))
	}
	t.Raw = json.RawMessage(data)
	return t, nil
}

// ActiveInPLZPrefix reads every page of
// GET /api/therapists?status=aktiv&plz_prefix={prefix}. Unlike the reference,
// which asked for one page of 1000 and silently lost the rest, it follows the
// pages until the list ends.
func (c *TherapistClient) ActiveInPLZPrefix(ctx context.Context, prefix string) ([]Therapist, error) {
	items, err := c.s.list(ctx, "/api/therapists", url.Values{"status": {"aktiv"}, "plz_prefix": {prefix}})
	if err != nil {
		return nil, err
	}
	out := make([]Therapist, 0, len(items))
	for _, it := range items {
		t, err := c.decode(it)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// SetNextContact writes naechster_kontakt_moeglich through
// PUT /api/therapists/{id}; date is YYYY-MM-DD.
func (c *TherapistClient) SetNextContact(ctx context.Context, id int64, date string) error {
	body := map[string]string{"naechster_kontakt_moeglich": date}
	status, data, err := c.s.do(ctx, http.MethodPut, fmt.Sprintf("/api/therapists/%d", id), nil, body)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return fault.NotFoundf("Therapist %d not found", id)
	case status < 200 || status > 299:
		return c.s.rejected(status, data)
	}
	return nil
}

// CommunicationClient creates emails and phone calls in the communication
// service (COMMUNICATION_SERVICE_URL). Creating is not idempotent: after an
// Unavailable error the email or call may exist nonetheless.
type CommunicationClient struct{ s service }

var _ Communication = (*CommunicationClient)(nil)

// CreateEmail posts to /api/emails and returns the new email's id.
func (c *CommunicationClient) CreateEmail(ctx context.Context, e Email) (int64, error) {
	return c.create(ctx, "/api/emails", e)
}

// CreatePhoneCall posts to /api/phone-calls and returns the new call's id.
func (c *CommunicationClient) CreatePhoneCall(ctx context.Context, pc PhoneCall) (int64, error) {
	return c.create(ctx, "/api/phone-calls", pc)
}

func (c *CommunicationClient) create(ctx context.Context, path string, body any) (int64, error) {
	status, data, err := c.s.do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return 0, err
	}
	if status < 200 || status > 299 {
		return 0, c.s.rejected(status, data)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(data, &created); err != nil || created.ID <= 0 {
		return 0, c.s.unavailable(fmt.Errorf("POST %s: answer %d without an id: %s", path, status, message(data)))
	}
	return created.ID, nil
}

// PhoneCallsForAnfrage lists the calls whose therapeutenanfrage_id is
// anfrageID, in the service's order, with the date and time each is planned
// for. Records that carry a different therapeutenanfrage_id are dropped, in
// case a service ignores the filter. A date or time the service sent in
// another shape than the reference's (a datetime, seconds) is cut to
// YYYY-MM-DD and HH:MM; one that cannot be read is left empty rather than
// failing the list, so the caller can still adopt the call.
func (c *CommunicationClient) PhoneCallsForAnfrage(ctx context.Context, anfrageID int64) ([]PhoneCallRecord, error) {
	items, err := c.s.list(ctx, "/api/phone-calls", url.Values{"therapeutenanfrage_id": {strconv.FormatInt(anfrageID, 10)}})
	if err != nil {
		return nil, err
	}
	calls := make([]PhoneCallRecord, 0, len(items))
	for _, it := range items {
		var call struct {
			ID                   int64           `json:"id"`
			TherapeutenanfrageID *int64          `json:"therapeutenanfrage_id"`
			GeplantesDatum       json.RawMessage `json:"geplantes_datum"`
			GeplanteZeit         json.RawMessage `json:"geplante_zeit"`
		}
		if err := json.Unmarshal(it, &call); err != nil {
			return nil, c.s.unavailable(fmt.Errorf("decode phone call: %w", err))
		}
		if call.TherapeutenanfrageID != nil && *call.TherapeutenanfrageID != anfrageID {
			continue
		}
		calls = append(calls, PhoneCallRecord{
			ID:             call.ID,
			GeplantesDatum: isoDate(call.GeplantesDatum),
			GeplanteZeit:   clockTime(call.GeplanteZeit),
		})
	}
	return calls, nil
}

// isoDate reads a JSON string holding an ISO date, or a datetime whose date
// part is taken, and returns YYYY-MM-DD; anything else gives "".
func isoDate(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil || len(s) < len(time.DateOnly) {
		return ""
	}
	d, rest := s[:len(time.DateOnly)], s[len(time.DateOnly):]
	if rest != "" && rest[0] != 'T' && rest[0] != ' ' {
		return ""
	}
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return ""
	}
	return d
}

// clockTime reads a JSON string holding a time of day, H:MM or HH:MM with
// optional seconds, and returns HH:MM; anything else gives "".
func clockTime(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	for _, layout := range []string{"15:04", "15:04:05", "15:04:05.999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("15:04")
		}
	}
	return ""
}

// GeocodingClient asks the geocoding service (GEOCODING_SERVICE_URL) for distances.
type GeocodingClient struct{ s service }

var _ Distances = (*GeocodingClient)(nil)

// DistanceKM reads GET /api/calculate-distance. ok is false when the service
// answered but could not compute a distance: status "error" (an address it
// cannot resolve; the reference service then sends distance_km 0), a null
// distance_km, or a 404. An empty TravelMode asks for car.
func (c *GeocodingClient) DistanceKM(ctx context.Context, q DistanceQuery) (float64, bool, error) {
	mode := q.TravelMode
	if mode == "" {
		mode = "car"
	}
	query := url.Values{"origin": {q.Origin}, "destination": {q.Destination}, "travel_mode": {mode}}
	status, data, err := c.s.do(ctx, http.MethodGet, "/api/calculate-distance", query, nil)
	switch {
	case err != nil:
		return 0, false, err
	case status == http.StatusNotFound:
		return 0, false, nil
	case status != http.StatusOK:
		return 0, false, c.s.rejected(status, data)
	}
	var res struct {
		DistanceKM *float64 `json:"distance_km"`
		Status     string   `json:"status"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return 0, false, c.s.unavailable(fmt.Errorf("decode distance: %w", err))
	}
	if res.Status == "error" || res.DistanceKM == nil {
		return 0, false, nil
	}
	return *res.DistanceKM, true, nil
}
