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
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
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
// ends, and returns a pool on it together with its URL.
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
	dbURL := withDatabase(admin, name)
	pool, err := store.Open(ctx, dbURL, 8)
	if err != nil {
		tb.Fatalf("storetest: open pool: %v", err)
	}
	tb.Cleanup(func() {
		pool.Close()
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
	return withDatabase(admin, name)
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
		pool, err := store.Open(ctx, withDatabase(admin, name), 2)
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

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

func findServer() (string, error) {
	for _, env := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(env); v != "" {
			return withDatabase(v, "postgres"), nil
		}
	}
	local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if answers(local) {
		return local, nil
	}
	return startThrowaway()
}

func answers(u string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return false
	}
	c.Close(ctx)
	return true
}

// startThrowaway starts a private cluster on a free port with the machine's
// initdb and pg_ctl (as user postgres when running as root).
func startThrowaway() (string, error) {
	bin, err := pgBin()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "matching-pg-")
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	asPostgres := os.Geteuid() == 0
	run := func(args ...string) error {
		var cmd *exec.Cmd
		if asPostgres {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		} else {
			cmd = exec.Command(args[0], args[1:]...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if asPostgres {
		if err := exec.Command("chown", "postgres:postgres", dir).Run(); err != nil {
			return "", err
		}
	}
	data := filepath.Join(dir, "data")
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"); err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "pg.log"), "-w", "-t", "30", "-o", opts, "start"); err != nil {
		return "", err
	}
	cleanup = func() {
		_ = run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop")
		_ = os.RemoveAll(dir)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

func pgBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", fmt.Errorf("no server at 127.0.0.1:5432 and no pg_ctl installed (set DATABASE_URL or install postgresql)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
