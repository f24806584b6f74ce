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

	"github.com/curavani/matching/pkg/fault"
)

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
