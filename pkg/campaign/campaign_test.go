package campaign_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/campaign"
)

func TestMain(m *testing.M) {
	campaign.RunChildIfAsked()
	os.Exit(m.Run())
}

// The short campaign: every fault once, then all together, with a few
// thousand events over Kafka and HTTP and API traffic; every invariant of
// the report must hold. make chaos runs the long one.
func TestCampaign_short(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault campaign takes a minute")
	}
	d, n := 50*time.Second, 4000
	if v := os.Getenv("CAMPAIGN_DURATION"); v != "" {
		d, _ = time.ParseDuration(v)
	}
	rep, err := campaign.Run(context.Background(), campaign.Options{
		Duration: d, Events: n, Hold: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log("\n" + b.String())
	if !rep.OK() {
		t.Errorf("%s (the functions' logs are in %s)", rep.Summary(), rep.Dir)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
