package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// call is one request of the mix: its endpoint (the route, which the report
// groups by), what to send, the refusals the scenario expects with their
// reasons, and what to remember from a success.
type call struct {
	endpoint  string
	method    string
	path      string
	body      *bytes.Reader
	expected  map[int]string
	then      func(body []byte)
	anonymous bool
}

// Refusals the scenario expects, by cause. Each is a race between clients or
// a rule the mix runs into on purpose; none is a failure of the service.
var (
	refusedAlreadySearching = map[int]string{400: "the patient already has an active search (another client created it first)"}
	refusedContact          = map[int]string{409: "the therapist already has an open anfrage or is in a cooling period after an answer"}
	refusedSend             = map[int]string{400: "the anfrage was already sent (another client sent it first)", 409: "the anfrage was cancelled or changed while it was being sent"}
	refusedResponse         = map[int]string{400: "the anfrage is not sent yet (a client answers one another is still sending)"}
	refusedAnonymous        = map[int]string{401: "a request without a token, sent on purpose: authentication is on"}
)

// weighted is the mix: how often each kind of request is made, out of the
// sum of the weights. Reads are about two thirds.
var weighted = []struct {
	weight int
	make   func(c *client) (call, bool)
}{
	{12, (*client).listSearches},
	{14, (*client).getSearch},
	{4, (*client).getSearchAt},
	{8, (*client).listAnfragen},
	{10, (*client).getAnfrage},
	{3, (*client).getAnfrageAt},
	{5, (*client).timeline},
	{3, (*client).selection},
	{10, (*client).createSearch},
	{7, (*client).updateSearch},
	{8, (*client).createAnfrage},
	{6, (*client).send},
	{5, (*client).respond},
	{1, (*client).anonymous},
}

var totalWeight = func() int {
	n := 0
	for _, w := range weighted {
		n += w.weight
	}
	return n
}()

// pick draws the next request. One whose precondition does not hold yet
// (nothing sent to answer) falls back to listing searches.
func (c *client) pick() call {
	n := c.rng.IntN(totalWeight)
	for _, w := range weighted {
		if n < w.weight {
			if cl, ok := w.make(c); ok {
				return cl
			}
			break
		}
		n -= w.weight
	}
	cl, _ := c.listSearches()
	return cl
}

func get(endpoint, path string) call { return call{endpoint: endpoint, method: "GET", path: path} }

func withBody(endpoint, method, path string, v any) call {
	b, _ := json.Marshal(v)
	return call{endpoint: endpoint, method: method, path: path, body: bytes.NewReader(b)}
}

func (c *client) listSearches() (call, bool) {
	return get("GET /api/platzsuchen", fmt.Sprintf("/api/platzsuchen?page=%d&limit=20", 1+c.rng.IntN(5))), true
}

func (c *client) getSearch() (call, bool) {
	id, ok := c.state.search(c.rng)
	return get("GET /api/platzsuchen/{id}", fmt.Sprintf("/api/platzsuchen/%d", id)), ok
}

// stand is an instant for ?stand=: now, so the entity picked (created
// before) existed then.
func stand() string { return url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)) }

func (c *client) getSearchAt() (call, bool) {
	id, ok := c.state.search(c.rng)
	return get("GET /api/platzsuchen/{id}?stand=", fmt.Sprintf("/api/platzsuchen/%d?stand=%s", id, stand())), ok
}

func (c *client) listAnfragen() (call, bool) {
	return get("GET /api/therapeutenanfragen", fmt.Sprintf("/api/therapeutenanfragen?page=%d&limit=20", 1+c.rng.IntN(3))), true
}

func (c *client) getAnfrage() (call, bool) {
	a, ok := c.state.anfrage(c.rng, false)
	return get("GET /api/therapeutenanfragen/{id}", fmt.Sprintf("/api/therapeutenanfragen/%d", a.id)), ok
}

func (c *client) getAnfrageAt() (call, bool) {
	a, ok := c.state.anfrage(c.rng, false)
	return get("GET /api/therapeutenanfragen/{id}?stand=", fmt.Sprintf("/api/therapeutenanfragen/%d?stand=%s", a.id, stand())), ok
}

func (c *client) timeline() (call, bool) {
	if c.rng.IntN(2) == 0 {
		if a, ok := c.state.anfrage(c.rng, false); ok {
			return get("GET /api/verlauf", fmt.Sprintf("/api/verlauf?anfrage_id=%d", a.id)), true
		}
	}
	id, ok := c.state.search(c.rng)
	return get("GET /api/verlauf", fmt.Sprintf("/api/verlauf?platzsuche_id=%d", id)), ok
}

func (c *client) selection() (call, bool) {
	return get("GET /api/therapeuten-zur-auswahl", "/api/therapeuten-zur-auswahl?plz_prefix="+c.state.data.PLZPrefix), true
}

func (c *client) createSearch() (call, bool) {
	pid := c.state.data.Patients[c.rng.IntN(len(c.state.data.Patients))]
	cl := withBody("POST /api/platzsuchen", "POST", "/api/platzsuchen", map[string]any{"patient_id": pid})
	cl.expected = refusedAlreadySearching
	cl.then = func(body []byte) {
		var out struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(body, &out) == nil && out.ID > 0 {
			c.state.addSearch(out.ID)
		}
	}
	return cl, true
}

func (c *client) updateSearch() (call, bool) {
	id, ok := c.state.search(c.rng)
	return withBody("PUT /api/platzsuchen/{id}", "PUT", fmt.Sprintf("/api/platzsuchen/%d", id), map[string]any{"prioritaet": c.rng.IntN(4)}), ok
}

func (c *client) createAnfrage() (call, bool) {
	tid := c.state.data.Therapists[c.rng.IntN(len(c.state.data.Therapists))]
	cl := withBody("POST /api/therapeutenanfragen/erstellen-fuer-therapeut", "POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut",
		map[string]any{"therapist_id": tid, "plz_prefix": c.state.data.PLZPrefix})
	cl.expected = refusedContact
	cl.then = func(body []byte) {
		var out struct {
			AnfrageID  int64   `json:"anfrage_id"`
			PatientIDs []int64 `json:"patient_ids"`
		}
		// 200 "No eligible patients found" has no anfrage_id.
		if json.Unmarshal(body, &out) == nil && out.AnfrageID > 0 {
			c.state.addAnfrage(anfrage{id: out.AnfrageID, patients: out.PatientIDs})
		}
	}
	return cl, true
}

func (c *client) send() (call, bool) {
	a, ok := c.state.anfrage(c.rng, false)
	cl := call{endpoint: "POST /api/therapeutenanfragen/{id}/senden", method: "POST", path: fmt.Sprintf("/api/therapeutenanfragen/%d/senden", a.id)}
	cl.expected = refusedSend
	cl.then = func([]byte) { c.state.markSent(a.id) }
	return cl, ok
}

// respond records the answer of a sent anfrage. The answer is the same for
// every client (it follows from the anfrage's id), so two clients answering
// the same anfrage record one response and both get 200.
func (c *client) respond() (call, bool) {
	a, ok := c.state.anfrage(c.rng, true)
	if !ok {
		return call{}, false
	}
	outcomes := map[string]string{}
	for i, p := range a.patients {
		o := "abgelehnt_Kapazitaet"
		if (a.id+int64(i))%3 == 0 {
			o = "angenommen"
		}
		outcomes[strconv.FormatInt(p, 10)] = o
	}
	cl := withBody("PUT /api/therapeutenanfragen/{id}/antwort", "PUT", fmt.Sprintf("/api/therapeutenanfragen/%d/antwort", a.id),
		map[string]any{"patient_responses": outcomes})
	cl.expected = refusedResponse
	return cl, true
}

// anonymous is a request without a token; with authentication on it must be
// refused (with it off it is an ordinary list read).
func (c *client) anonymous() (call, bool) {
	cl := get("GET /api/platzsuchen (no token)", "/api/platzsuchen?limit=5")
	cl.anonymous = true
	if c.cfg.Token != "" {
		cl.expected = refusedAnonymous
	}
	return cl, true
}

// anfrage is one the run created: its id and patients.
type anfrage struct {
	id       int64
	patients []int64
	sent     bool
}

// state is what the clients share: the searches and anfragen the run
// created, so that reads and later writes name existing ones.
type state struct {
	data     Data
	mu       sync.RWMutex
	searches []int64
	anfragen []anfrage
	index    map[int64]int
	sent     []int64
}

func newState(d Data) *state { return &state{data: d, index: map[int64]int{}} }

func (s *state) addSearch(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searches = append(s.searches, id)
}

// search picks a search the run created.
func (s *state) search(rng interface{ IntN(int) int }) (int64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.searches) == 0 {
		return 0, false
	}
	return s.searches[rng.IntN(len(s.searches))], true
}

func (s *state) addAnfrage(a anfrage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index[a.id] = len(s.anfragen)
	s.anfragen = append(s.anfragen, a)
}

func (s *state) markSent(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[id]; ok && !s.anfragen[i].sent {
		s.anfragen[i].sent = true
		s.sent = append(s.sent, id)
	}
}

// anfrage picks an anfrage the run created; sent picks among the sent ones.
func (s *state) anfrage(rng interface{ IntN(int) int }, sent bool) (anfrage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sent {
		if len(s.sent) == 0 {
			return anfrage{}, false
		}
		return s.anfragen[s.index[s.sent[rng.IntN(len(s.sent))]]], true
	}
	if len(s.anfragen) == 0 {
		return anfrage{}, false
	}
	return s.anfragen[rng.IntN(len(s.anfragen))], true
}
