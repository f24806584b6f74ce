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
