package localpg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/store/localpg"
)

// A crash-safe throwaway cluster halted fast, then immediately (a crash), comes back
// on the same URL each time with what was committed before.
func TestHaltResume_keepsTheDataOnTheSameURL(t *testing.T) {
	ctx := context.Background()
	srv, err := localpg.StartCrashSafe(ctx)
	if err != nil {
		t.Skipf("no throwaway cluster here: %v", err)
	}
	defer srv.Stop()
	exec := func(sql string) {
		t.Helper()
		c, err := pgx.Connect(ctx, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)`)
	for _, mode := range []string{"fast", "immediate"} {
		if err := srv.Halt(ctx, mode); err != nil {
			t.Fatal(err)
		}
		if localpg.Answers(ctx, srv.URL) {
			t.Fatalf("the cluster still answers after a %s shutdown", mode)
		}
		if err := srv.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO kept VALUES (2)`)
	}
	c, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d rows after two restarts, want 3", n)
	}
	if err := (&localpg.Server{Origin: "local"}).Halt(ctx, "fast"); err == nil {
		t.Fatal("a server the tests did not start could be halted")
	}
}
