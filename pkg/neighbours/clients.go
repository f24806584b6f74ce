package neighbours

import (
	"context"
	"encoding/json"
	"fmt"
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
	return c.list(ctx, url.Values{"status": {"aktiv"}, "plz_prefix": {prefix}})
}

// list reads every page of GET /api/therapists with the filters in query.
func (c *TherapistClient) list(ctx context.Context, query url.Values) ([]Therapist, error) {
	items, err := c.s.list(ctx, "/api/therapists", query)
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

// All reads every page of GET /api/therapists?page=&limit=1000, every
// status: the whole directory, for matching's copy (directory-sync).
func (c *TherapistClient) All(ctx context.Context) ([]Therapist, error) {
	return c.list(ctx, nil)
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

// EmailsToTherapist lists the emails whose therapist_id is therapistID,
// with their subjects. Records of another therapist are dropped, in case a
// service ignores the filter.
func (c *CommunicationClient) EmailsToTherapist(ctx context.Context, therapistID int64) ([]EmailRecord, error) {
	items, err := c.s.list(ctx, "/api/emails", url.Values{"therapist_id": {strconv.FormatInt(therapistID, 10)}})
	if err != nil {
		return nil, err
	}
	emails := make([]EmailRecord, 0, len(items))
	for _, it := range items {
		var email struct {
			ID          int64  `json:"id"`
			TherapistID *int64 `json:"therapist_id"`
			Betreff     string `json:"betreff"`
		}
		if err := json.Unmarshal(it, &email); err != nil {
			return nil, c.s.unavailable(fmt.Errorf("decode email: %w", err))
		}
		if email.TherapistID != nil && *email.TherapistID != therapistID {
			continue
		}
		emails = append(emails, EmailRecord{ID: email.ID, Betreff: email.Betreff})
	}
	return emails, nil
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
