package sink_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/sink"
)

// consumeOne reads the first record of topic from the cluster at addrs.
func consumeOne(t *testing.T, addrs []string, topic string) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no record on %s: %v", topic, err)
		}
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0]
		}
	}
}

func TestKafka_recordIsKeyedByPartitionKeyWithCloudEventHeaders(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "matching-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	s, err := sink.NewKafka(c.ListenAddrs(), "matching-events")
	if err != nil {
		t.Fatalf("NewKafka: %v", err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), testEvent(t)); err != nil {
		t.Fatalf("Send: %v", err)
	}

	rec := consumeOne(t, c.ListenAddrs(), "matching-events")
	if string(rec.Key) != "42" {
		t.Errorf("record key = %q, want the partitionkey 42", rec.Key)
	}
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{
		"ce_specversion":  "1.0",
		"ce_id":           "0b6a3f0e-5d7c-4a43-9b4e-1f1f2f3f4f5f",
		"ce_source":       "matching-service",
		"ce_type":         "search.status_changed",
		"ce_time":         "2026-11-27T09:30:00Z",
		"ce_subject":      "42",
		"ce_partitionkey": "42",
		"content-type":    "application/json",
	}
	if d := cmp.Diff(want, headers); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	wantValue := `{"search_id":42,"patient_id":7,"old_status":"aktiv","new_status":"abgebrochen"}`
	if string(rec.Value) != wantValue {
		t.Errorf("value = %s, want %s", rec.Value, wantValue)
	}
}

func TestKafka_newFromEnvironmentWithoutKSinkProducesToMatchingEventsTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := config.Common{}
	cfg.Kafka.BootstrapServers = append([]string{" "}, c.ListenAddrs()...)
	cfg.Kafka.MatchingEventsTopic = "matching-events-test"
	s, err := sink.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), testEvent(t)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec := consumeOne(t, c.ListenAddrs(), "matching-events-test"); string(rec.Key) != "42" {
		t.Errorf("record key = %q, want 42", rec.Key)
	}
}

func TestKafka_unreachableClusterIsAnErrorAtConstruction(t *testing.T) {
	if _, err := sink.NewKafka([]string{"127.0.0.1:1"}, "matching-events"); err == nil {
		t.Fatal("NewKafka against a closed port succeeded")
	}
}

func TestKafka_sendEndsWithTheContext(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "matching-events"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sink.NewKafka(c.ListenAddrs(), "matching-events")
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	// From now on the broker swallows produce requests without answering.
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = s.Send(ctx, testEvent(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error = %v, want the context's deadline", err)
	}
	// Closing the cluster first fails the hanging request, so Close returns.
	c.Close()
	_ = s.Close()
}
