// Package kafkatest starts an embedded broker for a test and produces and
// reads records on it with sarama, the client matching uses.
package kafkatest

import (
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/pkg/localkafka"
)

// ReadTimeout is how long Read waits for its records before the test fails.
const ReadTimeout = 15 * time.Second

// Start starts a broker on a free port with localkafka's topics, stopped when
// the test ends, and returns its bootstrap addresses.
func Start(t testing.TB) []string {
	t.Helper()
	b, err := localkafka.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs
}

// Producer is a synchronous producer on brokers, closed when the test ends.
func Producer(t testing.TB, brokers []string) sarama.SyncProducer {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Produce sends one record with a string key and value to topic.
func Produce(t testing.TB, p sarama.SyncProducer, topic, key, value string) {
	t.Helper()
	msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value)}
	if _, _, err := p.SendMessage(msg); err != nil {
		t.Fatal(err)
	}
}

// Read returns the first n records of topic, across its partitions, read
// from the oldest offset; the test fails when fewer arrive within
// ReadTimeout.
func Read(t testing.TB, brokers []string, topic string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *sarama.ConsumerMessage, 100)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				out <- m
			}
		}()
	}
	var got []*sarama.ConsumerMessage
	deadline := time.After(ReadTimeout)
	for len(got) < n {
		select {
		case m := <-out:
			got = append(got, m)
		case <-deadline:
			t.Fatalf("read %d records from %s, want %d", len(got), topic, n)
		}
	}
	return got
}
