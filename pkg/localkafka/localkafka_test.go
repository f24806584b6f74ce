package localkafka_test

import (
	"sort"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/pkg/localkafka"
)

func TestStart_createsTheTopicsWithThreePartitions(t *testing.T) {
	b, err := localkafka.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := sarama.NewConfig()
	cfg.Net.DialTimeout = 2 * time.Second
	admin, err := sarama.NewClusterAdmin(b.Addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for name, d := range topics {
		if d.NumPartitions != localkafka.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", name, d.NumPartitions, localkafka.Partitions)
		}
		got = append(got, name)
	}
	sort.Strings(got)
	want := append([]string(nil), localkafka.Topics...)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("topics %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("topics %v, want %v", got, want)
		}
	}
}

// A broker with a data directory keeps its records across a restart on the
// same address: a consumer that connects afterwards reads what was produced
// before.
func TestRestart_keepsRecordsInItsDataDir(t *testing.T) {
	b, err := localkafka.StartIn("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.DialTimeout = 2 * time.Second
	p, err := sarama.NewSyncProducer(b.Addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "matching-events", Value: sarama.StringEncoder("before")})
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs[0]
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if b.Addrs[0] != addr {
		t.Fatalf("restarted on %s, want %s", b.Addrs[0], addr)
	}
	c, err := sarama.NewConsumer(b.Addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition("matching-events", part, off)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if string(m.Value) != "before" {
			t.Fatalf("read %q after the restart, want %q", m.Value, "before")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the record produced before the restart is gone")
	}
}
