package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

type searchRow struct {
	Status string
	Notes  *string
}

func readSearch(t testing.TB, pool *pgxpool.Pool, id int64) (searchRow, *time.Time) {
	t.Helper()
	var r searchRow
	var updated *time.Time
	if err := pool.QueryRow(context.Background(),
		`SELECT status::text, notizen, updated_at FROM matching_service.platzsuche WHERE id = $1`, id).
		Scan(&r.Status, &r.Notes, &updated); err != nil {
		t.Fatal(err)
	}
	return r, updated
}

func cancelledNote(at time.Time) *string {
	n := matching.Note(at, "System", "Cancelled: Patient deleted from system")
	return &n
}

func TestPatientDeleted_cancelsAktivAndPausiertSearchesInEveryInputShape(t *testing.T) {
	for name, d := range shapes("patient.deleted", "9f1c0a52-0000-4000-8000-000000000001", "7", `{"patient_id":7,"id":7}`) {
		t.Run(name, func(t *testing.T) {
			pool, _ := storetest.New(t)
			aktiv := insertSearch(t, pool, 7, "aktiv")
			pausiert := insertSearch(t, pool, 7, "pausiert")
			erfolgreich := insertSearch(t, pool, 7, "erfolgreich")
			otherPatient := insertSearch(t, pool, 8, "aktiv")
			a := insertAnfrage(t, pool, anfrage{therapist: 1, sent: true, searches: []int64{aktiv, otherPatient}})
			before := count(t, pool, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE id = $1 AND notizen IS NULL AND storniert_datum IS NULL`, a)

			code, outcome := send(t, server(handlers.Patient(pool, nil, nil)), d)
			if code != 200 || outcome != "processed" {
				t.Fatalf("status %d outcome %q, want 200 processed", code, outcome)
			}
			for id, want := range map[int64]string{aktiv: "abgebrochen", pausiert: "abgebrochen", erfolgreich: "erfolgreich", otherPatient: "aktiv"} {
				got, updated := readSearch(t, pool, id)
				wantRow := searchRow{Status: want}
				if want == "abgebrochen" {
					if updated == nil {
						t.Fatalf("search %d: updated_at not set", id)
					}
					wantRow.Notes = cancelledNote(*updated)
				}
				if diff := cmp.Diff(wantRow, got); diff != "" {
					t.Errorf("search %d (-want +got):\n%s", id, diff)
				}
			}
			if after := count(t, pool, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE id = $1 AND notizen IS NULL AND storniert_datum IS NULL`, a); after != before {
				t.Errorf("the anfrage was changed")
			}
			want := []outboxRow{
				{"search.status_changed", fmt.Sprint(aktiv), fmt.Sprintf(`{"new_status":"abgebrochen","old_status":"aktiv","patient_id":7,"search_id":%d}`, aktiv)},
				{"search.status_changed", fmt.Sprint(pausiert), fmt.Sprintf(`{"new_status":"abgebrochen","old_status":"pausiert","patient_id":7,"search_id":%d}`, pausiert)},
			}
			if diff := cmp.Diff(want, outboxRows(t, pool)); diff != "" {
				t.Errorf("emitted events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPatientDeleted_appendsTheNoteToExistingNotesOnANewLine(t *testing.T) {
	pool, _ := storetest.New(t)
	id := insertSearch(t, pool, 7, "aktiv")
	if _, err := pool.Exec(context.Background(), `UPDATE matching_service.platzsuche SET notizen = 'earlier' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if code, _ := send(t, server(handlers.Patient(pool, nil, nil)), typed("patient.deleted", "e1", `{"patient_id":7}`)); code != 200 {
		t.Fatalf("status %d", code)
	}
	got, updated := readSearch(t, pool, id)
	if want := "earlier\n" + *cancelledNote(*updated); got.Notes == nil || *got.Notes != want {
		t.Fatalf("notes %q, want %q", *got.Notes, want)
	}
}

func TestPatientDeleted_withoutOpenSearchesIsAnAcknowledgedNoOp(t *testing.T) {
	pool, _ := storetest.New(t)
	done := insertSearch(t, pool, 7, "abgebrochen")
	code, outcome := send(t, server(handlers.Patient(pool, nil, nil)), typed("patient.deleted", "e1", `{"patient_id":7}`))
	if code != 200 || outcome != "processed" {
		t.Fatalf("status %d outcome %q, want 200 processed", code, outcome)
	}
	if got, _ := readSearch(t, pool, done); got.Notes != nil {
		t.Errorf("a cancelled search got the note again: %q", *got.Notes)
	}
	if rows := outboxRows(t, pool); len(rows) != 0 {
		t.Errorf("emitted %v, want nothing", rows)
	}
}

func TestPatientEvents_createdAndUpdatedChangeNothing(t *testing.T) {
	pool, _ := storetest.New(t)
	id := insertSearch(t, pool, 7, "aktiv")
	h := server(handlers.Patient(pool, nil, nil))
	for _, d := range []delivery{
		typed("patient.created", "c1", `{"patient_id":7}`),
		typed("patient.updated", "u1", `{"patient_id":7,"updated_fields":["plz"]}`),
		typed("patient.updated", "u2", `{"patient_id":7,"patient_data":{"plz":"10115","vorname":"A"}}`),
	} {
		if code, _ := send(t, h, d); code != 200 {
			t.Fatalf("%s: status %d, want 200", d.header["Ce-Type"], code)
		}
	}
	if got, _ := readSearch(t, pool, id); got.Status != "aktiv" || got.Notes != nil {
		t.Fatalf("search changed: %+v", got)
	}
	if rows := outboxRows(t, pool); len(rows) != 0 {
		t.Errorf("emitted %v, want nothing", rows)
	}
}

func TestPatientDeleted_sameEventThreeTimesHasOneEffect(t *testing.T) {
	for _, mode := range []string{"sequentially", "concurrently"} {
		t.Run(mode, func(t *testing.T) {
			pool, _ := storetest.New(t)
			id := insertSearch(t, pool, 7, "aktiv")
			insertSearch(t, pool, 7, "pausiert")
			h := server(handlers.Patient(pool, nil, nil))
			d := shapes("patient.deleted", "dup-1", "7", `{"patient_id":7}`)["envelope camelCase as dev.knative.kafka.event"]
			outcomes := make([]string, 3)
			codes := make([]int, 3)
			var wg sync.WaitGroup
			for i := range 3 {
				deliver := func() { codes[i], outcomes[i] = send(t, h, d) }
				if mode == "sequentially" {
					deliver()
					continue
				}
				wg.Go(deliver)
			}
			wg.Wait()
			processed := 0
			for i := range 3 {
				if codes[i] != 200 {
					t.Fatalf("delivery %d: status %d, want 200", i, codes[i])
				}
				if outcomes[i] == "processed" {
					processed++
				} else if outcomes[i] != "duplicate" {
					t.Fatalf("delivery %d: outcome %q", i, outcomes[i])
				}
			}
			if processed != 1 {
				t.Fatalf("outcomes %v, want one processed and two duplicates", outcomes)
			}
			got, updated := readSearch(t, pool, id)
			if diff := cmp.Diff(searchRow{"abgebrochen", cancelledNote(*updated)}, got); diff != "" {
				t.Errorf("search (-want +got):\n%s", diff)
			}
			if rows := outboxRows(t, pool); len(rows) != 2 {
				t.Errorf("emitted %d events, want 2 (one per search)", len(rows))
			}
		})
	}
}

func TestPatientEvents_poisonIsRejectedWith4xxAndChangesNothing(t *testing.T) {
	pool, _ := storetest.New(t)
	insertSearch(t, pool, 7, "aktiv")
	h := server(handlers.Patient(pool, nil, nil))
	tests := map[string]struct {
		d    delivery
		want int
	}{
		"data not JSON":       {typed("patient.deleted", "p1", `patient 7 is gone`), 400},
		"not a CloudEvent":    {delivery{map[string]string{"Content-Type": "application/json"}, `{"patient_id":7}`}, 400},
		"envelope not JSON":   {delivery{shapes("patient.deleted", "p2", "7", `{}`)["envelope snake_case"].header, `{"eventId":`}, 400},
		"missing patient_id":  {typed("patient.deleted", "p3", `{"id":7}`), 422},
		"string patient_id":   {typed("patient.deleted", "p4", `{"patient_id":"7"}`), 422},
		"negative patient_id": {typed("patient.deleted", "p5", `{"patient_id":-7}`), 422},
		"fractional id":       {typed("patient.deleted", "p6", `{"patient_id":7.5}`), 422},
		"envelope without id": {shapes("patient.deleted", "p7", "7", `{"patient":7}`)["envelope camelCase as dev.knative.kafka.event"], 422},
		"2 MiB body":          {typed("patient.deleted", "p8", `{"patient_id":7,"pad":"`+strings.Repeat("x", 2<<20)+`"}`), 413},
	}
	before := snapshot(t, pool)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if code, _ := send(t, h, tc.d); code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
		})
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// proxy forwards TCP connections to PostgreSQL until it is switched off,
// which also cuts the open connections: the database "goes away".
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestPatientDeleted_databaseDownIs5xxAndTheRedeliveryAppliesOnce(t *testing.T) {
	pool, url := storetest.New(t)
	id := insertSearch(t, pool, 7, "aktiv")
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port))
	proxied, err := store.Open(context.Background(), strings.Replace(url, fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port), p.ln.Addr().String(), 1), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer proxied.Close()
	h := server(handlers.Patient(proxied, nil, nil))
	d := typed("patient.deleted", "down-1", `{"patient_id":7}`)

	p.setDown(true)
	if code, _ := send(t, h, d); code < 500 {
		t.Fatalf("status %d with the database down, want 5xx", code)
	}
	if got, _ := readSearch(t, pool, id); got.Status != "aktiv" {
		t.Fatalf("search is %s while the database was down", got.Status)
	}

	p.setDown(false)
	// Knative redelivers until it gets a 2xx; a pooled connection cut while
	// the database was away may cost one more attempt.
	code := 0
	for range 3 {
		if code, _ = send(t, h, d); code == 200 {
			break
		}
	}
	if code != 200 {
		t.Fatalf("status %d after the database came back, want 200", code)
	}
	if code, outcome := send(t, h, d); code != 200 || outcome != "duplicate" {
		t.Fatalf("another redelivery: %d %s, want 200 duplicate", code, outcome)
	}
	if got, updated := readSearch(t, pool, id); got.Status != "abgebrochen" || *got.Notes != *cancelledNote(*updated) {
		t.Fatalf("search %+v, want cancelled once", got)
	}
	if rows := outboxRows(t, pool); len(rows) != 1 {
		t.Fatalf("emitted %d events, want 1", len(rows))
	}
}
