package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// The command prints one tab-separated line per difference and exits 1;
// nothing and 0 when the window replays the same; 2 for arguments it cannot
// use.
func TestRun_printsTheDifferencesAndExitsByThem(t *testing.T) {
	pool, url := storetest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO matching_service.platzsuche (id, patient_id) VALUES (1, 7)`); err != nil {
		t.Fatal(err)
	}
	var from time.Time
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&from); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE matching_service.platzsuche SET notizen = 'by hand' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	replay := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"-database", url, "-from", from.Format(time.RFC3339Nano)}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, summary := replay()
	if code != 1 || out != "platzsuche 1\tnotizen\t\"by hand\"\tnull\n" {
		t.Errorf("exit %d, output %q (%s)", code, out, summary)
	}
	if code, out, summary := replay("-manual"); code != 0 || out != "" || !strings.Contains(summary, "0 differences") {
		t.Errorf("with -manual: exit %d, output %q, summary %q", code, out, summary)
	}
	if code, _, msg := replay("-to", "yesterday"); code != 2 || !strings.Contains(msg, "-to") {
		t.Errorf("bad -to: exit %d, %q", code, msg)
	}
}
