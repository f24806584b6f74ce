// Package storetest gives tests a fresh, migrated PostgreSQL database each.
//
// The server is, in this order: the one TEST_DATABASE_URL or DATABASE_URL
// names; the local server on 127.0.0.1:5432 (user postgres, trust auth) if it
// answers; else a throwaway cluster started with the machine's initdb and
// pg_ctl for this test binary, removed when the tests end (see Main).
//
// Migrations are applied once into a template database named after a hash of
// the migration files; every test database is a copy of it (CREATE DATABASE
// … TEMPLATE), which takes a few tens of milliseconds.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/localpg"
)

var (
	serverOnce sync.Once
	serverURL  string // URL of the maintenance database "postgres"
	serverErr  error
	cleanup    func()

	templateMu    sync.Mutex
	templateReady = map[string]bool{}
)

// Main wraps testing.M.Run so that a throwaway cluster, if one was started,
// is stopped after the package's tests. Use it from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// ServerURL returns the URL of the maintenance database of the test server,
// starting a throwaway cluster when no server is reachable.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer() })
	if serverErr != nil {
		tb.Fatalf("storetest: no PostgreSQL for tests: %v", serverErr)
	}
	return serverURL
}

// New creates a fresh migrated database for this test, dropped when the test
// ends, and returns a pool on it together with its URL. Before the database
// is dropped, every event left in its outbox is checked against the AsyncAPI
// document (see checkEvents).
func New(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	ctx := context.Background()
	admin := ServerURL(tb)
	tmpl := ensureTemplate(tb, admin)

	name := "matching_test_" + randomSuffix()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("storetest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		tb.Fatalf("storetest: create database: %v", err)
	}
	dbURL := localpg.WithDatabase(admin, name)
	pool, err := store.Open(ctx, dbURL, 8)
	if err != nil {
		tb.Fatalf("storetest: open pool: %v", err)
	}
	tb.Cleanup(func() {
		pool.Close()
		checkEvents(tb, dbURL)
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return pool, dbURL
}

// Empty creates a fresh database with no migrations applied (for migration
// tests), dropped when the test ends.
func Empty(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin := ServerURL(tb)
	name := "matching_test_" + randomSuffix()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("storetest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("storetest: create database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return localpg.WithDatabase(admin, name)
}

// ensureTemplate creates the migrated template database once per migration
// set. Several test binaries may race for it: an advisory lock on the server
// serialises them.
func ensureTemplate(tb testing.TB, admin string) string {
	tb.Helper()
	templateMu.Lock()
	defer templateMu.Unlock()
	name := "matching_tmpl_" + migrationsHash()
	if templateReady[name] {
		return name
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("storetest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(4242001)"); err != nil {
		tb.Fatalf("storetest: lock: %v", err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(4242001)")

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		tb.Fatalf("storetest: look up template: %v", err)
	}
	if !exists {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			tb.Fatalf("storetest: create template: %v", err)
		}
		pool, err := store.Open(ctx, localpg.WithDatabase(admin, name), 2)
		if err != nil {
			tb.Fatalf("storetest: open template: %v", err)
		}
		_, err = store.Migrate(ctx, pool)
		pool.Close()
		if err != nil {
			tb.Fatalf("storetest: migrate template: %v", err)
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" WITH is_template true"); err != nil {
			tb.Fatalf("storetest: mark template: %v", err)
		}
	}
	templateReady[name] = true
	return name
}

// migrationsHash names the template after the migration files' content, so a
// changed migration gets a new template instead of a stale one.
func migrationsHash() string {
	h := sha256.New()
	for _, f := range store.MigrationSources() {
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func findServer() (string, error) {
	srv, err := localpg.Find(context.Background(), "TEST_DATABASE_URL", "DATABASE_URL")
	if err != nil {
		return "", err
	}
	if srv.Origin == "throwaway" {
		cleanup = srv.Stop
	}
	return localpg.WithDatabase(srv.URL, "postgres"), nil
}
