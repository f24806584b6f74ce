// Package localpg finds a PostgreSQL server for the local stack and the
// tests, or starts a throwaway one: DATABASE_URL (or TEST_DATABASE_URL) when
// set; else the local server on 127.0.0.1:5432 (user postgres, trust auth) if
// it answers; else a private cluster made with the machine's initdb and
// pg_ctl, on a free port, removed by Stop.
package localpg

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LocalURL is the machine's own server, if it runs.
const LocalURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Server is a reachable PostgreSQL server.
type Server struct {
	// URL points at the maintenance database "postgres" (or the database
	// named by the URL the user gave).
	URL string
	// Origin says where it came from: "env", "local" or "throwaway".
	Origin string
	stop   func()
	// cluster is set for a throwaway cluster: what Halt and Resume need.
	cluster *cluster
}

// cluster is a throwaway cluster's directory, binaries and start options.
type cluster struct {
	bin, dir, data, opts string
	asPostgres           bool
}

// pgctl runs pg_ctl with args on the cluster (as user postgres when root).
func (c *cluster) pgctl(ctx context.Context, args ...string) error {
	args = append([]string{filepath.Join(c.bin, "pg_ctl"), "-D", c.data}, args...)
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, args[0], args[1:]...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v: %s", args[len(args)-1], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Halt stops a throwaway cluster with pg_ctl's shutdown mode ("fast":
// clients are disconnected and the server checkpoints; "immediate": it
// quits without, as after a crash, and recovers on the next start) and
// keeps its data directory for Resume. The fault campaign (pkg/campaign)
// restarts the database it owns this way; other servers cannot be halted.
func (s *Server) Halt(ctx context.Context, mode string) error {
	if s.cluster == nil {
		return fmt.Errorf("only a throwaway cluster can be halted (this server is %s)", s.Origin)
	}
	if mode != "fast" && mode != "immediate" && mode != "smart" {
		return fmt.Errorf("shutdown mode must be smart, fast or immediate, got %q", mode)
	}
	return s.cluster.pgctl(ctx, "-m", mode, "-w", "-t", "60", "stop")
}

// Resume starts a halted throwaway cluster again on the same port and data
// directory and waits until it accepts connections.
func (s *Server) Resume(ctx context.Context) error {
	if s.cluster == nil {
		return fmt.Errorf("only a throwaway cluster can be resumed (this server is %s)", s.Origin)
	}
	c := s.cluster
	return c.pgctl(ctx, "-l", filepath.Join(c.dir, "pg.log"), "-w", "-t", "60", "-o", c.opts, "start")
}

// Stop stops and removes a throwaway cluster; for other servers it does nothing.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Find returns the first server of: the URL in the first set variable of
// envVars, the local server, a new throwaway cluster.
func Find(ctx context.Context, envVars ...string) (*Server, error) {
	for _, env := range envVars {
		if v := os.Getenv(env); v != "" {
			return &Server{URL: v, Origin: "env"}, nil
		}
	}
	if Answers(ctx, LocalURL) {
		return &Server{URL: LocalURL, Origin: "local"}, nil
	}
	return StartThrowaway(ctx)
}

// Answers reports whether a connection to u succeeds within two seconds.
func Answers(ctx context.Context, u string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return false
	}
	c.Close(ctx)
	return true
}

// WithDatabase returns u pointing at database db instead.
func WithDatabase(u, db string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return u
	}
	p.Path = "/" + db
	return p.String()
}

// EnsureDatabase creates database name on the server of adminURL if missing
// and returns its URL.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", Redact(adminURL), err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return WithDatabase(adminURL, name), nil
}

// StartThrowaway starts a private cluster on a free port with the machine's
// initdb and pg_ctl (as user postgres when running as root). It takes about
// two seconds; durability is off (fsync, synchronous_commit) because the data
// is thrown away.
func StartThrowaway(ctx context.Context) (*Server, error) {
	return startThrowaway(ctx, "off")
}

// StartCrashSafe starts a throwaway cluster as StartThrowaway does, except
// that a commit is written to the operating system before it is answered
// (synchronous_commit on; fsync stays off): a server killed by an
// immediate shutdown loses no committed transaction (only a machine crash
// would). The fault campaign restarts such a cluster.
func StartCrashSafe(ctx context.Context) (*Server, error) {
	return startThrowaway(ctx, "on")
}

func startThrowaway(ctx context.Context, syncCommit string) (*Server, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "matching-pg-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	asPostgres := os.Geteuid() == 0
	run := func(args ...string) error {
		var cmd *exec.Cmd
		if asPostgres {
			cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		} else {
			cmd = exec.CommandContext(ctx, args[0], args[1:]...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if asPostgres {
		if err := exec.Command("chown", "postgres:postgres", dir).Run(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=%s -c full_page_writes=off -c max_connections=300", port, dir, syncCommit)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "pg.log"), "-w", "-t", "30", "-o", opts, "start"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &cluster{bin: bin, dir: dir, data: data, opts: opts, asPostgres: asPostgres}
	stop := func() {
		cmd := []string{filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"}
		if asPostgres {
			cmd = append([]string{"runuser", "-u", "postgres", "--"}, cmd...)
		}
		_ = exec.Command(cmd[0], cmd[1:]...).Run()
		_ = os.RemoveAll(dir)
	}
	return &Server{
		URL:     fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		Origin:  "throwaway",
		stop:    stop,
		cluster: c,
	}, nil
}

func pgBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", fmt.Errorf("no PostgreSQL at 127.0.0.1:5432 and no initdb/pg_ctl installed: set DATABASE_URL or install PostgreSQL (apt-get install postgresql)")
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

// Redact hides the password of a database URL, for messages and banners.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}
