package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestMigrate_reapplyingIsANoOp(t *testing.T) {
	ctx := context.Background()
	pool, err := store.Open(ctx, storetest.Empty(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	first, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(store.MigrationSources()) {
		t.Fatalf("first run applied %v, want all %d migrations", first, len(store.MigrationSources()))
	}
	again, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second run applied %v, want nothing", again)
	}
	if n, err := store.PendingMigrations(ctx, pool); err != nil || n != 0 {
		t.Fatalf("pending = %d, %v; want 0", n, err)
	}
}

// A database that already holds the reference's tables, with its foreign
// keys into the other services' schemas, is migrated in place: data kept,
// cross-service FKs dropped, new tables and columns added.
func TestMigrate_onReferenceDatabaseKeepsDataAndDropsCrossServiceFKs(t *testing.T) {
	ctx := context.Background()
	pool, err := store.Open(ctx, storetest.Empty(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, `
CREATE SCHEMA patient_service; CREATE SCHEMA therapist_service; CREATE SCHEMA communication_service;
CREATE TABLE patient_service.patienten (id serial PRIMARY KEY);
CREATE TABLE therapist_service.therapeuten (id serial PRIMARY KEY);
CREATE TABLE communication_service.emails (id serial PRIMARY KEY);
CREATE TABLE communication_service.telefonanrufe (id serial PRIMARY KEY);
CREATE SCHEMA matching_service;
CREATE TYPE suchstatus AS ENUM ('aktiv', 'erfolgreich', 'pausiert', 'abgebrochen');
CREATE TYPE antworttyp AS ENUM ('vollstaendige_Annahme', 'teilweise_Annahme', 'vollstaendige_Ablehnung', 'keine_Antwort');
CREATE TYPE patientenergebnis AS ENUM ('angenommen', 'abgelehnt_Kapazitaet', 'abgelehnt_nicht_geeignet', 'abgelehnt_sonstiges', 'nicht_erschienen', 'in_Sitzungen');
CREATE TYPE anfrage_patient_status AS ENUM ('anstehend', 'angenommen', 'abgelehnt', 'keine_antwort');
CREATE TABLE matching_service.platzsuche (
  id serial PRIMARY KEY,
  patient_id integer NOT NULL REFERENCES patient_service.patienten(id) ON DELETE CASCADE,
  status suchstatus NOT NULL DEFAULT 'aktiv',
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at timestamp,
  ausgeschlossene_therapeuten jsonb NOT NULL DEFAULT '[]', gesamt_angeforderte_kontakte integer NOT NULL DEFAULT 0,
  erfolgreiche_vermittlung_datum timestamp, notizen text);
CREATE TABLE matching_service.therapeutenanfrage (
  id serial PRIMARY KEY,
  therapist_id integer NOT NULL REFERENCES therapist_service.therapeuten(id) ON DELETE CASCADE,
  erstellt_datum timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, gesendet_datum timestamp, antwort_datum timestamp,
  antworttyp antworttyp, anfragegroesse integer NOT NULL,
  angenommen_anzahl integer NOT NULL DEFAULT 0, abgelehnt_anzahl integer NOT NULL DEFAULT 0, keine_antwort_anzahl integer NOT NULL DEFAULT 0,
  notizen text,
  email_id integer CONSTRAINT therapeutenanfrage_email_id_fkey REFERENCES communication_service.emails(id) ON DELETE SET NULL,
  phone_call_id integer CONSTRAINT therapeutenanfrage_phone_call_id_fkey REFERENCES communication_service.telefonanrufe(id) ON DELETE SET NULL);
CREATE TABLE matching_service.therapeut_anfrage_patient (
  id serial PRIMARY KEY,
  therapeutenanfrage_id integer NOT NULL REFERENCES matching_service.therapeutenanfrage(id) ON DELETE CASCADE,
  platzsuche_id integer NOT NULL REFERENCES matching_service.platzsuche(id) ON DELETE CASCADE,
  patient_id integer NOT NULL REFERENCES patient_service.patienten(id) ON DELETE CASCADE,
  position_in_anfrage integer NOT NULL, status anfrage_patient_status NOT NULL DEFAULT 'anstehend',
  antwortergebnis patientenergebnis, antwortnotizen text, created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT uq_therapeut_anfrage_patient_anfrage_search UNIQUE (therapeutenanfrage_id, platzsuche_id));
INSERT INTO patient_service.patienten (id) VALUES (7);
INSERT INTO therapist_service.therapeuten (id) VALUES (70);
INSERT INTO matching_service.platzsuche (patient_id) VALUES (7);
INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) VALUES (70, 1);
INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage) VALUES (1, 1, 7, 1);
`)
	if err != nil {
		t.Fatalf("create reference schema: %v", err)
	}
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate reference database: %v", err)
	}

	var crossFKs, internalFKs int
	err = pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE dstns.nspname <> 'matching_service'),
       count(*) FILTER (WHERE dstns.nspname = 'matching_service')
FROM pg_constraint c
JOIN pg_class src ON src.oid = c.conrelid JOIN pg_namespace srcns ON srcns.oid = src.relnamespace
JOIN pg_class dst ON dst.oid = c.confrelid JOIN pg_namespace dstns ON dstns.oid = dst.relnamespace
WHERE c.contype = 'f' AND srcns.nspname = 'matching_service'`).Scan(&crossFKs, &internalFKs)
	if err != nil {
		t.Fatal(err)
	}
	// Internal: an anfrage patient's anfrage and search (the reference's),
	// a reply suggestion's anfrage (00020).
	if crossFKs != 0 || internalFKs != 3 {
		t.Fatalf("foreign keys: %d cross-service, %d internal; want 0 and 3", crossFKs, internalFKs)
	}
	// The patient can now be deleted in its own service without touching matching's history.
	if _, err := pool.Exec(ctx, `DELETE FROM patient_service.patienten WHERE id = 7`); err != nil {
		t.Fatal(err)
	}
	var searches, rows int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM matching_service.platzsuche), (SELECT count(*) FROM matching_service.therapeut_anfrage_patient)`).Scan(&searches, &rows); err != nil {
		t.Fatal(err)
	}
	if searches != 1 || rows != 1 {
		t.Fatalf("after patient delete: %d searches, %d patient rows; want 1 and 1", searches, rows)
	}
	// The new parts exist.
	var cols int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema='matching_service' AND table_name='therapeutenanfrage' AND column_name IN ('storniert_datum','storniert_grund')`).Scan(&cols); err != nil || cols != 2 {
		t.Fatalf("cancellation columns: %d, %v", cols, err)
	}
	for _, tbl := range []string{"outbox", "processed_events", "therapeut_kontaktsperre"} {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass('matching_service.'||$1) IS NOT NULL`, tbl).Scan(&ok); err != nil || !ok {
			t.Fatalf("table %s missing (%v)", tbl, err)
		}
	}
	// Real-time matching (00010): the search that was there waits with
	// priority 0, the anfrage has no stored PLZ prefix (a refill derives it),
	// and the copy's tables exist, empty.
	var prio int
	var prefix *string
	if err := pool.QueryRow(ctx, `SELECT (SELECT prioritaet FROM matching_service.platzsuche), (SELECT plz_prefix FROM matching_service.therapeutenanfrage)`).Scan(&prio, &prefix); err != nil || prio != 0 || prefix != nil {
		t.Fatalf("existing rows after 00010: prioritaet %d, plz_prefix %v, %v", prio, prefix, err)
	}
	for _, tbl := range []string{"patient_copy", "therapist_copy", "travel_distance", "recheck_request", "directory_sync"} {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM matching_service.`+tbl).Scan(&n); err != nil || n != 0 {
			t.Fatalf("table %s: %d rows, %v", tbl, n, err)
		}
	}
	// One active search per patient is enforced by the database.
	_, err = pool.Exec(ctx, `INSERT INTO matching_service.platzsuche (patient_id) VALUES (7)`)
	if !store.IsUniqueViolation(err, "uq_platzsuche_one_active_per_patient") {
		t.Fatalf("second active search for a patient: err = %v, want unique violation", err)
	}
}

// A database holding the schema before the history (migrations up to
// 00006) and data is migrated in place: every existing row gets one
// SNAPSHOT in the history, the business counters start where the row
// counts stood, and the history's horizon is when it began.
func TestMigrate_historyAndCountersOnADatabaseWithData(t *testing.T) {
	ctx := context.Background()
	pool, err := store.Open(ctx, storetest.Empty(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := store.MigrateUpTo(ctx, pool, 6); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `
INSERT INTO matching_service.platzsuche (patient_id, status) VALUES (1, 'aktiv'), (2, 'pausiert');
INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse, gesendet_datum, antwort_datum, antworttyp, email_id, phone_call_id) VALUES
    (1, 1, NULL, NULL, NULL, NULL, NULL),
    (2, 2, '2026-01-01 08:00', '2026-01-01 09:00', 'teilweise_Annahme', 5, 6),
    (3, 1, '2026-01-01 08:00', NULL, NULL, NULL, 7);
INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
    VALUES (2, 1, 1, 1), (2, 2, 2, 2);
INSERT INTO matching_service.outbox (event_type, partition_key, payload, published_at) VALUES
    ('therapeutenanfrage.follow_up_scheduled', '2', '{}', now()), ('search.status_changed', '1', '{}', now());
INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type) VALUES
    ('c', 'k1', 'phone_call.completed'), ('c', 'k2', 'email.sent');`)
	before := time.Now()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}

	history := map[string]int{}
	rows, err := pool.Query(ctx, `SELECT tbl || ' ' || op, count(*)::int FROM matching_service.history GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var key string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&key, &n}, func() error { history[key] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"platzsuche SNAPSHOT": 2, "therapeutenanfrage SNAPSHOT": 3, "therapeut_anfrage_patient SNAPSHOT": 2}
	if d := cmp.Diff(want, history); d != "" {
		t.Errorf("history after the migration (-want +got):\n%s", d)
	}
	// Each snapshot is the row as it is.
	var same bool
	if err := pool.QueryRow(ctx, `
		SELECT bool_and(h.after = to_jsonb(a)) FROM matching_service.therapeutenanfrage a
		JOIN matching_service.history h ON h.tbl = 'therapeutenanfrage' AND h.row_id = a.id`).Scan(&same); err != nil || !same {
		t.Errorf("snapshots equal the rows: %v (%v)", same, err)
	}

	counters := map[string]float64{}
	rows, err = pool.Query(ctx, `SELECT name || '/' || label, sum(value) FROM matching_service.business_counter GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	if _, err := pgx.ForEachRow(rows, []any{&key, &v}, func() error { counters[key] = v; return nil }); err != nil {
		t.Fatal(err)
	}
	wantCounters := map[string]float64{
		"anfragen_created/": 3, "anfragen_sent/email": 1, "anfragen_sent/phone_call": 1,
		"anfragen_responses/teilweise_Annahme": 1,
		"response_time/count":                  1, "response_time/sum": 3600,
		"response_time/le_3600": 1, "response_time/le_21600": 1, "response_time/le_86400": 1, "response_time/le_172800": 1,
		"response_time/le_259200": 1, "response_time/le_604800": 1, "response_time/le_1209600": 1, "response_time/le_2592000": 1,
		"follow_ups_scheduled/": 1, "calls_completed/": 1,
	}
	if d := cmp.Diff(wantCounters, counters); d != "" {
		t.Errorf("counters after the migration (-want +got):\n%s", d)
	}

	horizon, err := store.HistoryHorizon(ctx, pool)
	if err != nil || horizon.Before(before.Add(-time.Minute)) || horizon.After(time.Now()) {
		t.Errorf("horizon %s (%v), want the migration's time", horizon, err)
	}
}
