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
}

// Start starts a one-node broker listening on addr ("127.0.0.1:9092", or
// "127.0.0.1:0" for a free port) with Topics created. Other topics are
// created on first use.
func Start(addr string) (*Broker, error) {
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
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", addr, err)
	}
	return &Broker{cluster: c, Addrs: c.ListenAddrs()}, nil
}

// Close stops the broker; its data is gone.
func (b *Broker) Close() { b.cluster.Close() }
