package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestMigrate_appliesTheSchemaOnceAndThenNothing(t *testing.T) {
	ctx := context.Background()
	url := storetest.Empty(t)
	cfg := spec{Database: config.Database{URL: url}}

	var first bytes.Buffer
	if err := run(ctx, cfg, &first); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if !strings.HasPrefix(first.String(), "migrate: applied versions [1 ") {
		t.Errorf("first run printed %q, want the applied versions starting at 1", first.String())
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'matching_service' AND table_name IN ('platzsuche', 'therapeutenanfrage', 'outbox', 'processed_events')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 4 {
		t.Errorf("%d of the 4 core tables exist after migrating", tables)
	}

	var second bytes.Buffer
	if err := run(ctx, cfg, &second); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := second.String(); got != "migrate: schema up to date, nothing applied\n" {
		t.Errorf("second run printed %q, want nothing applied", got)
	}
}

func TestMigrate_refusesAnEmptyDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", " ")
	var cfg spec
	err := config.Load(&cfg)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("Load with a blank DATABASE_URL: %v, want an error naming DATABASE_URL", err)
	}
}
