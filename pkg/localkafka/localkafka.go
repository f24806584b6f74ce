// Package localkafka runs an embedded Kafka-protocol broker (franz-go's kfake)
// for the local stack and the tests, with the topics matching uses created.
// Any Kafka client can connect to it; matching talks to it with sarama.
package localkafka

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topics are the five topics of the platform that matching touches, created
// with Partitions partitions each (as the reference's create-topics.sh does).
var Topics = []string{
	"patient-events",
	"therapist-events",
	"communication-events",
	"matching-events",
	"matching-events-dlq",
}

// Partitions per topic.
const Partitions = 3

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	// Addrs are the bootstrap addresses (host:port).
	Addrs []string
	// dataDir keeps records, topics and committed offsets when set.
	dataDir string
}

// Start starts a one-node broker listening on addr ("127.0.0.1:9092", or
// "127.0.0.1:0" for a free port) with Topics created. Other topics are
// created on first use. Its data lives in memory and is gone on Close.
func Start(addr string) (*Broker, error) {
	return StartIn(addr, "")
}

// StartIn starts a broker as Start does whose records, topics and consumer
// group offsets are kept in dataDir (when not empty), so Restart, or a new
// broker on the same directory, carries on where it stopped.
func StartIn(addr, dataDir string) (*Broker, error) {
	c, err := newCluster(addr, dataDir)
	if err != nil {
		return nil, err
	}
	return &Broker{cluster: c, Addrs: c.ListenAddrs(), dataDir: dataDir}, nil
}

// Restart closes the broker and starts it again on the same address and
// data directory, as a broker restart in production: clients lose their
// connections, and a broker with a data directory keeps its records and
// committed offsets.
func (b *Broker) Restart() error {
	b.cluster.Close()
	c, err := newCluster(b.Addrs[0], b.dataDir)
	if err != nil {
		return err
	}
	b.cluster = c
	return nil
}

func newCluster(addr, dataDir string) (*kfake.Cluster, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("kafka listen address %q: bad port", addr)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(Partitions, Topics...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(Partitions),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", addr, err)
	}
	return c, nil
}

// Close stops the broker; without a data directory its data is gone.
func (b *Broker) Close() { b.cluster.Close() }
